# SPDX-License-Identifier: MIT
# Figure 6: ms each mechanism adds to start-up over none (both through
# zpbench-run), one panel per program; whiskers: bootstrap 95 % interval.
# Usage: gnuplot -c plots/fig6_startup.gp OUT/fig6-startup.vars
load ARG1
load ARG0[:strlen(ARG0)-strlen("fig6_startup.gp")]."common.gp"

do for [t in terms] {
    eval set_term(t, 1000, 500)
    set output out.".".t
    set multiplot layout 1, ncases title "Start-up cost per mechanism (over none, both through zpbench-run)"
    set style fill solid 0.85 border -1
    set grid ytics lw 0.3
    set xtics rotate by 20 right
    set xrange [-0.5:*]
    set offsets 0, 0.5, 0, 0
    set bmargin 7
    set label 1 caption at screen 0.01, screen 0.02 left font ",7" tc rgb "#444444"
    do for [c=1:ncases] {
        set title (c == 1 ? titles[:strstrt(titles, "|") - 1] : titles[strstrt(titles, "|") + 1:])
        set ylabel (c == 1 ? "ms added to start-up over none" : "")
        plot dat index (c-1) using 0:2:(0.35) with boxes lc rgb "#1f77b4" notitle, \
             '' index (c-1) using 0:2:3:4 with yerrorbars pt 0 lw 0.7 lc rgb "black" notitle, \
             '' index (c-1) using 0:2:(sprintf("%+.1f", $2)) with labels offset 0, 0.7 font ",7" notitle, \
             '' index (c-1) using 0:(NaN):xtic(1) notitle, \
             0 with lines lc rgb "black" notitle
        unset label 1
    }
    unset multiplot
    unset output
}
