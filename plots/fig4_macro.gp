# SPDX-License-Identifier: MIT
# Figure 4: server throughput relative to none, one panel per hook,
# whiskers min-max. Usage: gnuplot -c plots/fig4_macro.gp OUT/fig4-macro.vars
load ARG1
load ARG0[:strlen(ARG0)-strlen("fig4_macro.gp")]."common.gp"

w = 0.84 / nmech
x(i) = $0 - 0.42 + (i + 0.5) * w
do for [t in terms] {
    eval set_term(t, 1100, 500)
    set output out.".".t
    set multiplot layout 1, nhooks title "Server throughput under each mechanism (100 % = none)"
    set style fill solid 0.85 border -1
    set yrange [0:*]
    set grid ytics lw 0.3
    set xrange [-0.5:*]
    set offsets 0, 0.5, 0, 0
    set xtics rotate by 20 right
    set key autotitle columnhead
    set key top right font ",8" samplen 1.5
    set bmargin 6
    set label 1 caption at screen 0.01, screen 0.02 left font ",7" tc rgb "#444444"
    do for [h=1:nhooks] {
        set title word(hooks, h)." hook"
        set ylabel (h == 1 ? "throughput relative to none [%]" : "")
        plot for [i=0:nmech-1] dat index (h-1) using (x(i)):(column(2+3*i)):(x(i)-w/2):(x(i)+w/2):(0):(column(2+3*i)) \
                with boxxyerror lc rgb word(colors, i+1) title (h == 1 ? columnhead(2+3*i) : ""), \
             for [i=0:nmech-1] '' index (h-1) using (x(i)):(column(2+3*i)):(column(3+3*i)):(column(4+3*i)) \
                with yerrorbars pt -1 lw 0.6 lc rgb "black" notitle, \
         '' index (h-1) using 0:(NaN):xtic(1) notitle, \
             100 with lines dt 2 lc rgb "black" notitle
        unset label 1
    }
    unset multiplot
    unset output
}
