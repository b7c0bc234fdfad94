# SPDX-License-Identifier: MIT
# Figure 4: server throughput relative to none, one panel per hook (the
# usnet stage's servers on lwIP: one more, hook "usnet"), and
# (when the results record it) CPU us per request below; whiskers: the
# bootstrap 95 % interval (min-max for older files).
# Usage: gnuplot -c plots/fig4_macro.gp OUT/fig4-macro.vars
load ARG1
load ARG0[:strlen(ARG0)-strlen("fig4_macro.gp")]."common.gp"

w = 0.84 / nmech
x(i) = $0 - 0.42 + (i + 0.5) * w
cw = (ncpumech > 0) ? 0.84 / ncpumech : 1
cx(i) = $0 - 0.42 + (i + 0.5) * cw
# the throughput panels take the top half when the CPU panel is drawn
top = (ncpumech > 0) ? 0.5 : 0.0
do for [t in terms] {
    eval set_term(t, 1100, (ncpumech > 0) ? 850 : 500)
    set output out.".".t
    set multiplot title "Server throughput under each mechanism (100 % = none)".((ncpumech > 0) ? " and CPU time per request" : "")
    set style fill solid 0.85 border -1
    set grid ytics lw 0.3
    set xtics rotate by 20 right
    set key autotitle columnhead
    set key top right font ",8" samplen 1.5
    set label 1 caption at screen 0.01, screen 0.01 left font ",7" tc rgb "#444444"
    do for [h=1:nhooks] {
        set origin (h - 1.0) / nhooks, top + 0.03
        set size 1.0 / nhooks, (1 - top) - 0.1
        set yrange [0:*]
        set xrange [-0.5:*]
        set offsets 0, 0.5, 0, 0
        set title (word(hooks, h) eq "usnet" ? "usnet: servers on lwIP (none = lwIP, no mechanism)" : word(hooks, h)." hook")
        set ylabel (h == 1 ? "throughput relative to none [%]" : "")
        plot for [i=0:nmech-1] dat index (h-1) using (x(i)):(column(2+3*i)):(x(i)-w/2):(x(i)+w/2):(0):(column(2+3*i)) \
                with boxxyerror lc rgb word(colors, i+1) title (h == 1 ? columnhead(2+3*i) : ""), \
             for [i=0:nmech-1] '' index (h-1) using (x(i)):(column(2+3*i)):(column(3+3*i)):(column(4+3*i)) \
                with yerrorbars pt -1 lw 0.6 lc rgb "black" notitle, \
         '' index (h-1) using 0:(NaN):xtic(1) notitle, \
             100 with lines dt 2 lc rgb "black" notitle
        unset label 1
    }
    if (ncpumech > 0) {
        set origin 0, 0.04
        set size 1, top - 0.06
        set logscale y
        set yrange [cpufloor:*]
        set xtics norotate
        set title "CPU time per request, pass hook (none: no hook); C = client-bound samples"
        set ylabel "server (+ tracer) CPU us per request"
        plot for [i=0:ncpumech-1] dat index nhooks using (cx(i)):(column(2+4*i)):(cx(i)-cw/2):(cx(i)+cw/2):(cpufloor):(column(2+4*i)) \
                with boxxyerror lc rgb word(cpucolors, i+1) title columnhead(2+4*i), \
             for [i=0:ncpumech-1] '' index nhooks using (cx(i)):(column(2+4*i)):(column(3+4*i)):(column(4+4*i)) \
                with yerrorbars pt -1 lw 0.6 lc rgb "black" notitle, \
             for [i=0:ncpumech-1] '' index nhooks using (cx(i)):(column(4+4*i)):(column(5+4*i) > 0 ? sprintf("C%d", column(5+4*i)) : "") \
                with labels offset 0, 0.6 font ",7" tc rgb "#b00000" notitle, \
         '' index nhooks using 0:(NaN):xtic(1) notitle
        unset logscale y
    }
    unset multiplot
    unset output
}
