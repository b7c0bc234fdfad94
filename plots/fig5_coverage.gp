# SPDX-License-Identifier: MIT
# Figure 5: dynamic coverage heatmap, program x mechanism, percent of the
# program's syscalls after the start-up window that each mechanism hooked
# (truth: the same run observed by covtrace; * separate ptrace runs).
# Usage: gnuplot -c plots/fig5_coverage.gp OUT/fig5-coverage.vars
load ARG1
load ARG0[:strlen(ARG0)-strlen("fig5_coverage.gp")]."common.gp"
set datafile missing "NaN"

do for [t in terms] {
    eval set_term(t, 900, 200 + 28 * nprog)
    set output out.".".t
    set title "Dynamic coverage after start-up: share of the program's system calls each mechanism hooked"
    set palette defined (0 "#d73027", 50 "#fee08b", 100 "#1a9850")
    set cbrange [0:100]
    set cblabel "hooked / the program's calls [%]"
    set xtics rotate by 30 right
    set xlabel "mechanism"
    set ylabel "program"
    set yrange [nprog-0.5:-0.5]
    set xrange [-0.5:nmech-0.5]
    set bmargin 7
    set lmargin 18
    set label 1 caption at screen 0.01, screen 0.02 left font ",7" tc rgb "#444444"
    plot dat matrix rowheaders columnheaders using 1:2:3 with image notitle, \
         '' matrix rowheaders columnheaders using 1:2:(sprintf("%.1f", $3)) \
            with labels font ",8" notitle
    unset output
}
