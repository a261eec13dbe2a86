# Plot of bench/density.py's TSV (kind n start_per_s pss_kib guest_pss_kib idle_cpu_pct):
# start rate and PSS per VM against the number of idle VMs, one line per VMM.
# gnuplot -e "data='build/density.tsv'; out='build/density.png'" bench/density.gp
set terminal pngcairo size 1100,420 font ",10" noenhanced
set output out
set multiplot layout 1,2 title "Idle microVMs on one host (bench/density.sh)"
set key top left
set grid
set logscale x
set xlabel "VMs running"
kinds = system("awk '!/^#/ {print $1}' " . data . " | uniq")
set ylabel "VMs started per second"
plot for [k in kinds] "< awk '$1==\"" . k . "\"' " . data using 2:3 with linespoints title k
set ylabel "PSS per VM beyond guest pages (KiB)"
set logscale y
plot for [k in kinds] "< awk '$1==\"" . k . "\"' " . data using 2:4 with linespoints title k
unset multiplot
