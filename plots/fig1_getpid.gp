# SPDX-License-Identifier: MIT
# Figure 1: cost of one getpid per mechanism, null and pass hooks, log
# scale, whiskers min-max of the repetitions; left raw syscall instruction,
# right glibc getpid(). Usage: gnuplot -c plots/fig1_getpid.gp OUT/fig1-getpid.vars
# (the .vars and .dat files are written by plots/figures from a results file).
load ARG1
load ARG0[:strlen(ARG0)-strlen("fig1_getpid.gp")]."common.gp"

# bars as boxes from `floor` up: log scale has no zero
w = 0.38
do for [t in terms] {
    eval set_term(t, 1100, 560)
    set output out.".".t
    set multiplot title "Cost of one getpid per hooking mechanism"
    set style fill solid 0.85 border -1
    set logscale y
    set yrange [floor:*]
    set format y "%.0s%c"
    set grid ytics mytics lw 0.3
    set xtics rotate by 30 right nomirror
    set xrange [-0.6:*]
    set tmargin at screen 0.84
    set bmargin at screen 0.2
    set key at screen 0.5, screen 0.91 center horizontal maxrows 1 samplen 2 width 1
    set offsets 0, 0.6, 0, 0
    set label 1 caption at screen 0.01, screen 0.02 left font ",7" tc rgb "#444444"
    set lmargin at screen 0.07
    set rmargin at screen 0.52
    set ylabel "time per getpid call [ns] (log scale)"
    set title "getpid via a raw syscall instruction"
    # the tools users would pick instead (issue 18): a group at the right
    if (tools_raw >= 0) {
        set arrow 5 from tools_raw-0.5, graph 0 to tools_raw-0.5, graph 1 nohead dt 3 lc rgb "#555555"
        set label 5 "tools" at tools_raw-0.4, graph 0.97 left font ",8"
    }
    # a panel without records (a run of one of the two cases only) says
    # so: gnuplot refuses to plot a block of missing values
    if (!has_raw) {
        set label 9 "no records of case getpid" at graph 0.5, graph 0.5 center
        unset xtics
        plot [0:1] [floor:floor*10] 1/0 notitle
        unset label 9
        set xtics rotate by 30 right nomirror
    } else {
    plot dat index 0 using ($0-w/2):2:($0-w):($0):(floor):2:xtic(1) with boxxyerror \
            lc rgb "#1f77b4" title "null hook (no kernel entry)", \
         '' index 0 using ($0+w/2):5:($0):($0+w):(floor):5 with boxxyerror \
            lc rgb "#ff7f0e" title "pass hook (real syscall)", \
         '' index 0 using ($0-w/2):2:3:4 with yerrorbars pt -1 lc rgb "black" notitle, \
         '' index 0 using ($0+w/2):5:6:7 with yerrorbars pt -1 lc rgb "black" notitle, \
         '' index 0 using ($0-w/2):($2*2.5):8 with labels font ",7" notitle, \
         none_raw with lines dt 2 lc rgb "black" title "none: plain syscall"
    }
    unset label 1
    set key off
    set lmargin at screen 0.54
    set rmargin at screen 0.99
    set ylabel ""
    set format y ""
    set title "getpid via glibc getpid()"
    unset arrow 5
    unset label 5
    if (tools_libc >= 0) {
        set arrow 5 from tools_libc-0.5, graph 0 to tools_libc-0.5, graph 1 nohead dt 3 lc rgb "#555555"
        set label 5 "tools" at tools_libc-0.4, graph 0.97 left font ",8"
    }
    if (!has_libc) {
        set label 9 "no records of case getpid-libc" at graph 0.5, graph 0.5 center
        unset xtics
        plot [0:1] [floor:floor*10] 1/0 notitle
        unset label 9
        set xtics rotate by 30 right nomirror
    } else {
    plot dat index 1 using ($0-w/2):2:($0-w):($0):(floor):2:xtic(1) with boxxyerror \
            lc rgb "#1f77b4", \
         '' index 1 using ($0+w/2):5:($0):($0+w):(floor):5 with boxxyerror lc rgb "#ff7f0e", \
         '' index 1 using ($0-w/2):2:3:4 with yerrorbars pt -1 lc rgb "black", \
         '' index 1 using ($0+w/2):5:6:7 with yerrorbars pt -1 lc rgb "black", \
         '' index 1 using ($0-w/2):($2*2.5):8 with labels font ",7", \
         none_libc with lines dt 2 lc rgb "black"
    }
    unset arrow 5
    unset label 5
    unset multiplot
    unset output
}
