# bench/profile.sh's analysis of `perf script -F ip,sym,symoff` call chains
# (one record per sample, frames leaf first). Variables: what (a title),
# period (ns of CPU between samples), log_ (the loop's log: two "mark N UNITS
# at T ns" lines around the sampled window), funcs (FILE LINE NAME of each
# function's first line), lines (bench/prog_lines: FUNCTION OFFSET FILE:LINE
# SOURCE).
function hex(s,    i, v) {
	v = 0
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
function step_of(loc,    a, f, l, best, bl, i) {
	split(loc, a, ":"); f = a[1]; l = a[2] + 0; best = "?"; bl = 0
	for (i = 1; i <= nfn; i++)
		if (fn_file[i] == f && fn_line[i] <= l && fn_line[i] > bl) {
			bl = fn_line[i]; best = fn_name[i]
		}
	return best
}
# The line of function f holding JIT offset off: the last record at or before it.
function line_of(f, off,    i, best, bo) {
	best = ""; bo = -1
	for (i = 1; i <= nln; i++)
		if (ln_func[i] == f && ln_off[i] <= off && ln_off[i] > bo) {
			bo = ln_off[i]; best = ln_loc[i]
		}
	return best
}
BEGIN {
	while ((getline x < funcs) > 0) {
		split(x, a, " "); nfn++; fn_file[nfn] = a[1]; fn_line[nfn] = a[2]; fn_name[nfn] = a[3]
	}
	while ((getline x < lines) > 0) {
		split(x, a, " "); nln++; ln_func[nln] = a[1]; ln_off[nln] = hex(a[2])
		ln_loc[nln] = a[3]; t = x; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", t); src[a[3]] = t
		ours[a[1]] = 1
	}
	m = 0
	while ((getline x < log_) > 0)
		if (x ~ /mark [0-9]+ [a-z]+ at [0-9]+ ns/) {
			sub(/^.*mark /, "", x); split(x, a, " "); m++; cnt[m] = a[1]; unit = a[2]
		}
	if (m < 2) {
		print "profile: the loop did not report its answers" > "/dev/stderr"; exit 1
	}
	answers = cnt[2] - cnt[1]
	RS = ""; FS = "\n"	# the samples: a record each, a frame a line
}
{
	hit = 0
	for (i = 1; i <= NF; i++) {
		fr = $i; sub(/^[ \t]*[0-9a-f]+ /, "", fr)
		sym = fr; sub(/\+0x[0-9a-f]+$/, "", sym)
		off = fr; sub(/^.*\+0x/, "", off); off = hex(off)
		if (sym !~ /^bpf_prog_[0-9a-f]+_/)
			continue
		f = sym; sub(/^bpf_prog_[0-9a-f]+_/, "", f)
		if (!(f in ours))
			continue
		loc = line_of(f, i == 1 ? off : off - 1)
		if (loc == "")
			loc = f ":?"
		callee = ""
		if (i > 1) {
			callee = $(i - 1); sub(/^[ \t]*[0-9a-f]+ /, "", callee); sub(/\+0x[0-9a-f]+$/, "", callee)
		}
		hit = 1
		break
	}
	if (!hit)
		next
	total++
	st = step_of(loc)
	by_step[st]++
	by_line[loc]++
	if (callee != "")
		by_call[st " -> " callee]++
}
END {
	if (!total || answers <= 0) {
		print "profile: no samples in the program" > "/dev/stderr"; exit 1
	}
	ns = total * period / answers
	sub(/s$/, "", unit)
	printf "%s: %.0f ns per %s in the program (%u samples, %u %ss)\n", what, ns, unit, total, answers, unit
	printf "  %-28s %6s %7s\n", "step (function)", "share", "ns"
	for (s in by_step)
		printf "  %-28s %5.1f%% %7.1f\n", s, 100 * by_step[s] / total, ns * by_step[s] / total | "sort -k3 -rn"
	close("sort -k3 -rn")
	printf "  calls out of the program:\n"
	for (c in by_call)
		if (by_call[c] / total >= 0.005)
			printf "    %-48s %5.1f%% %7.1f\n", c, 100 * by_call[c] / total, ns * by_call[c] / total | "sort -k5 -rn"
	close("sort -k5 -rn")
	printf "  costliest lines:\n"
	for (l in by_line)
		printf "    %5.1f%% %6.1f  %-22s %s\n", 100 * by_line[l] / total, ns * by_line[l] / total, l, substr(src[l], 1, 60) | "sort -k2 -rn | head -12"
	close("sort -k2 -rn | head -12")
}
