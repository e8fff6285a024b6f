using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Alora.IO;
using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// DIR/report.md and DIR/figures/*.png from results.csv and the run folders: the results table, the ablation,
/// t-tests of Ours against each baseline with per-seed distributions, domain-stage loss curves, the importance
/// heat map, the layer weights used, the sweeps, and the cost of the importance estimate against the Fisher.
/// </summary>
public static partial class ExperimentReport
{
    const string Ours = "alora";
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Write(string outDir, ExperimentConfig config, IReadOnlyList<ResultRow> rows)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rows);
        var r = new Builder(Path.GetFullPath(outDir), config, rows);
        r.Build();
        var path = Path.Combine(outDir, "report.md");
        AtomicFile.WriteAllText(path, r.Text);
        return path;
    }

    sealed partial class Builder(string outDir, ExperimentConfig c, IReadOnlyList<ResultRow> all)
    {
        readonly StringBuilder _md = new();
        readonly List<ResultRow> _main = all.Where(r => r.Sweep is null).ToList();
        readonly List<string> _methods = ExperimentMethods.All.Where(m => all.Any(r => r.Method == m && r.Sweep is null)).ToList();
        readonly List<string> _tasks = all.Select(r => r.Task).Distinct().ToList();
        readonly List<string> _probes = all.SelectMany(r => r.Probes.Keys).Distinct().ToList();
        string FigDir => Path.Combine(outDir, "figures");

        public string Text => _md.ToString();

        public void Build()
        {
            Directory.CreateDirectory(FigDir);
            Header();
            Results();
            Ablation();
            Significance();
            LossCurves();
            Importance();
            LayerWeights();
            Sweeps();
            Costs();
            Files();
        }

        void Line(string s = "") => _md.Append(s).Append('\n');

        string Fig(string file, string alt)
        {
            return $"![{alt}](figures/{file})";
        }

        static string Safe(string name) => name.Replace('/', '-');

        IEnumerable<ResultRow> Of(string method, string task) => _main.Where(r => r.Method == method && r.Task == task);

        void Header()
        {
            Line("# Experiment report");
            Line();
            Line($"Model: `{c.Model}`. Methods: {string.Join(", ", _methods.Select(ExperimentMethods.Display))}. "
                + $"Seeds: {string.Join(", ", c.Seeds)}. Domain tasks: {string.Join(", ", _tasks)}"
                + (_probes.Count > 0 ? $". Probes: {string.Join(", ", _probes)}" : "") + ".");
            Line();
            Line("General ability is the perplexity on the held-out general text (lower is better); domain ability is the "
                + "multiple-choice accuracy on the task's test file (acc: argmax of the summed log-likelihood; acc_norm: divided by the choice's length in characters). "
                + "Cells are mean ± sample sd over seeds; the best mean of each column, as printed, is in **bold**. Every number comes from `results.csv`.");
            if (_methods.Contains("base")) { Line(); Line("Base is the untrained model: it is evaluated once, so its numbers are the same for every seed (sd 0)."); }
            Line();
        }

        // ---- tables ----

        (List<string> Cols, List<BestIs> Best, Func<string, IReadOnlyList<MeanSd>> Cells) Columns()
        {
            var cols = new List<string>();
            var best = new List<BestIs>();
            var getters = new List<Func<string, MeanSd>>();
            foreach (var t in _tasks)
            {
                string p = _tasks.Count > 1 ? t + ": " : "";
                cols.Add(p + "general PPL ↓"); best.Add(BestIs.Min); getters.Add(m => MeanSd.Of(Of(m, t).Select(r => r.GeneralPpl).ToList()));
                cols.Add(p + t + " acc % ↑"); best.Add(BestIs.Max); getters.Add(m => MeanSd.Of(Of(m, t).Select(r => 100 * r.Acc).ToList()));
                cols.Add(p + t + " acc_norm % ↑"); best.Add(BestIs.Max); getters.Add(m => MeanSd.Of(Of(m, t).Select(r => 100 * r.AccNorm).ToList()));
                foreach (var probe in _probes)
                {
                    cols.Add(p + probe + " acc % ↑"); best.Add(BestIs.Max);
                    getters.Add(m => MeanSd.Of(Of(m, t).Select(r => r.Probes.TryGetValue(probe, out var v) ? 100 * v.Acc : double.NaN).ToList()));
                }
            }
            return (cols, best, m => getters.Select(g => g(m)).ToList());
        }

        void Results()
        {
            Line("## Results");
            Line();
            var (cols, best, cells) = Columns();
            Line(MarkdownTable.MeanSdTable("Method", cols, best, _methods.Select(m => (ExperimentMethods.Display(m), cells(m))).ToList()));
        }

        void Ablation()
        {
            var rows = new List<(string, string)> { (Ours, "Ours"), ("alora-no-layer", "− layer"), ("lora-nu-mu", "− layer, element (= LoRA(ν+μ))") }
                .Where(x => _methods.Contains(x.Item1)).ToList();
            if (!_methods.Contains(Ours) || rows.Count < 2) return;
            Line("## Ablation");
            Line();
            Line("Ours without the layer-wise weights (uniform w = 1/M) and without both (the same adapter continued on the domain with no penalty).");
            Line();
            var (cols, best, cells) = Columns();
            Line(MarkdownTable.MeanSdTable("Variant", cols, best, rows.Select(x => (x.Item2, cells(x.Item1))).ToList()));
        }

        void Significance()
        {
            if (!_methods.Contains(Ours)) return;
            var others = _methods.Where(m => m != Ours).ToList();
            Line("## Ours against each baseline");
            Line();
            Line("Independent two-sample t-tests over seeds (two-sided), Student's (pooled variance) and Welch's (unequal variances). "
                + "t > 0 means Ours has the larger mean. With few seeds the tests have little power; n/a means a group has fewer than 2 seeds.");
            Line();
            foreach (var t in _tasks)
            {
                if (_tasks.Count > 1) { Line($"### {t}"); Line(); }
                var table = new MarkdownTable(["Baseline", "Metric", "Ours", "Baseline mean", "Student t", "df", "p", "Welch t", "df", "p"],
                    [ColumnAlign.Left, ColumnAlign.Left, .. Enumerable.Repeat(ColumnAlign.Right, 8)]);
                var notes = new List<string>();
                foreach (var b in others)
                {
                    foreach (var (metric, get) in new (string, Func<ResultRow, double>)[] { ("general PPL", r => r.GeneralPpl), ("acc %", r => 100 * r.Acc) })
                    {
                        var g1 = Of(Ours, t).Select(get).ToList();
                        var g2 = Of(b, t).Select(get).ToList();
                        var s = TTest.Student(g1, g2);
                        var w = TTest.Welch(g1, g2);
                        table.AddRow(ExperimentMethods.Display(b), metric, MarkdownTable.FormatMeanSd(s.Mean1, s.Sd1), MarkdownTable.FormatMeanSd(s.Mean2, s.Sd2),
                            F(s.T, "F3"), F(s.Df, "F2"), P(s.P), F(w.T, "F3"), F(w.Df, "F2"), P(w.P));
                        foreach (var reason in new[] { s.Reason, w.Reason }.OfType<string>().Distinct())
                            notes.Add($"{ExperimentMethods.Display(b)}, {metric}: {reason}.");
                    }
                }
                Line(table.ToString());
                foreach (var n in notes.Distinct()) Line("- " + n);
                if (notes.Count > 0) Line();
                var ppl = _methods.ToDictionary(ExperimentMethods.Display, m => Of(m, t).Select(r => r.GeneralPpl).ToArray());
                var acc = _methods.ToDictionary(ExperimentMethods.Display, m => Of(m, t).Select(r => 100 * r.Acc).ToArray());
                string f1 = $"{Safe(t)}-general-ppl.png", f2 = $"{Safe(t)}-acc.png";
                Figures.GroupDistribution(Path.Combine(FigDir, f1), $"General perplexity per seed (tuned on {t})", "perplexity ↓", ppl);
                Figures.GroupDistribution(Path.Combine(FigDir, f2), $"{t} accuracy per seed", "acc % ↑", acc);
                Line(Fig(f1, $"general perplexity per seed, {t}") + " " + Fig(f2, $"accuracy per seed, {t}"));
                Line();
            }
        }

        // ---- curves, importance, weights ----

        string RunDir(string run) => Path.Combine(outDir, "runs", run);

        void LossCurves()
        {
            var trained = _methods.Where(m => m != "base").ToList();
            if (trained.Count == 0) return;
            Line("## Domain-stage loss");
            Line();
            foreach (var t in _tasks)
            {
                var ours = _methods.Contains(Ours) ? Of(Ours, t).OrderBy(r => r.Seed).FirstOrDefault() : null;
                var penalised = ours ?? trained.Select(m => Of(m, t).OrderBy(r => r.Seed).FirstOrDefault()).FirstOrDefault(r => r is not null && ExperimentResults.ReadMetrics(RunDir(r.Run)).Any(x => x.Penalty is not null));
                if (penalised is not null)
                {
                    var m = ExperimentResults.ReadMetrics(RunDir(penalised.Run));
                    if (m.Count > 0)
                    {
                        double[] x = [.. m.Select(v => (double)v.Step)];
                        var file = $"loss-{Safe(t)}.png";
                        Figures.LossCurves(Path.Combine(FigDir, file), $"{ExperimentMethods.Display(penalised.Method)} on {t}, seed {penalised.Seed}",
                        [
                            ("task loss (cross-entropy)", x, [.. m.Select(v => v.TaskLoss)]),
                            ("scaled penalty", x, [.. m.Select(v => v.Penalty ?? 0)]),
                            ("total", x, [.. m.Select(v => v.Loss)]),
                        ]);
                        Line($"{ExperimentMethods.Display(penalised.Method)} (seed {penalised.Seed}): the domain cross-entropy, the penalty as added to the loss (φ and the layer weights included) and their sum, per step. "
                            + string.Create(Inv, $"At the last step the penalty is {Ratio(m[^1].Penalty ?? 0, m[^1].TaskLoss)} of the cross-entropy."));
                        Line();
                        Line(Fig(file, $"domain-stage loss, {t}"));
                        Line();
                    }
                }
                var series = new List<(string, double[], double[])>();
                foreach (var method in trained)
                {
                    var runs = Of(method, t).Select(r => ExperimentResults.ReadMetrics(RunDir(r.Run))).Where(l => l.Count > 0).ToList();
                    if (runs.Count == 0) continue;
                    int n = runs.Min(l => l.Count);
                    series.Add((ExperimentMethods.Display(method), [.. Enumerable.Range(0, n).Select(i => (double)runs[0][i].Step)],
                        [.. Enumerable.Range(0, n).Select(i => runs.Average(l => l[i].TaskLoss))]));
                }
                if (series.Count > 0)
                {
                    var file = $"loss-methods-{Safe(t)}.png";
                    Figures.LossCurves(Path.Combine(FigDir, file), $"Domain task loss on {t}, mean over seeds", series, yLabel: "cross-entropy");
                    Line(Fig(file, $"domain task loss per method, {t}"));
                    Line();
                }
            }
        }

        static string Ratio(double a, double b) => b > 0 ? (a / b).ToString("P1", Inv) : "n/a";

        /// <summary>The general-stage runs behind Ours' main rows, found through the runs' result.json.</summary>
        List<(long Seed, string Run)> GeneralRuns()
        {
            var list = new List<(long, string)>();
            foreach (var r in _main.Where(r => r.Method == Ours).GroupBy(r => r.Seed).Select(g => g.First()))
            {
                var deps = ExperimentResults.ReadJson(Path.Combine(RunDir(r.Run), "result.json"))?["depends_on"]?.AsArray();
                var g = deps?.Select(d => d!.GetValue<string>()).FirstOrDefault(d => File.Exists(Path.Combine(RunDir(d), "importance.safetensors")));
                if (g is not null) list.Add((r.Seed, g));
            }
            return list;
        }

        [GeneratedRegex(@"(^|\.)(\d+)\.")]
        private static partial Regex LayerIndex();

        void Importance()
        {
            var generals = GeneralRuns();
            if (generals.Count == 0) return;
            var norms = generals.Select(g => ExperimentResults.ImportanceNorms(RunDir(g.Run))).OfType<JsonObject>().ToList();
            if (norms.Count == 0) return;
            // module path -> (row = module name, column = layer index)
            var cells = norms[0].Select(kv => kv.Key).Select(p =>
            {
                var mm = LayerIndex().Match(p);
                return (Path: p, Row: p[(p.LastIndexOf('.') + 1)..], Layer: mm.Success ? int.Parse(mm.Groups[2].Value, Inv) : 0);
            }).ToList();
            var rowNames = cells.Select(x => x.Row).Distinct().ToArray();
            var layers = cells.Select(x => x.Layer).Distinct().Order().ToArray();
            var values = new double[rowNames.Length, layers.Length];
            for (int i = 0; i < rowNames.Length; i++)
                for (int j = 0; j < layers.Length; j++) values[i, j] = double.NaN;
            foreach (var cell in cells)
            {
                var logs = norms.Select(n => n[cell.Path]?.GetValue<double>() ?? double.NaN).Select(v => v > 0 ? Math.Log(v) : double.NaN).Where(double.IsFinite).ToList();
                values[Array.IndexOf(rowNames, cell.Row), Array.IndexOf(layers, cell.Layer)] = logs.Count > 0 ? logs.Average() : double.NaN;
            }
            Line("## Importance");
            Line();
            Line($"ln ‖Ω‖₂ (Frobenius norm of each adapted module's importance) after the general stage, mean over {norms.Count} seed(s); "
                + "rows are the target modules, columns the layers. Grey cells have Ω = 0.");
            Line();
            var file = "importance-heatmap.png";
            Figures.Heatmap(Path.Combine(FigDir, file), "ln ‖Ω‖ per module after the general stage", rowNames,
                [.. layers.Select(l => l.ToString(Inv))], values, "ln ‖Ω‖", "layer", "module");
            Line(Fig(file, "importance heat map"));
            Line();
        }

        void LayerWeights()
        {
            var runs = _main.Where(r => r.Method == Ours).GroupBy(r => (r.Seed, r.Task)).Select(g => g.First()).ToList();
            var files = runs.Select(r => (r, J: ExperimentResults.ReadJson(Path.Combine(RunDir(r.Run), "layer_weights.json")))).Where(x => x.J is not null).ToList();
            if (files.Count == 0) return;
            Line("## Layer weights used");
            Line();
            var first = files[0].J!;
            Line($"w = {first["weighting"]} of the modules' ‖Ω‖₂, computed once at the start of the domain stage (φ = {first["phi"]}). "
                + "Per module: the norm and the weight, mean over the runs of Ours.");
            Line();
            var modules = first["modules"]!.AsArray().Select(m => m!["module"]!.GetValue<string>()).ToList();
            var table = new MarkdownTable(["Module", "‖Ω‖₂", "weight w"], [ColumnAlign.Left, ColumnAlign.Right, ColumnAlign.Right]);
            var meanW = new double[modules.Count];
            for (int i = 0; i < modules.Count; i++)
            {
                var norms = files.Select(f => f.J!["modules"]![i]!["omega_norm"]!.GetValue<double>()).ToList();
                var ws = files.Select(f => f.J!["modules"]![i]!["weight"]!.GetValue<double>()).ToList();
                meanW[i] = ws.Average();
                table.AddRow(modules[i], norms.Average().ToString("G4", Inv), MarkdownTable.FormatMeanSd(ws.Average(), files.Count > 1 ? Summary.StandardDeviation(ws) : double.NaN, 4));
            }
            Line(table.ToString());
            foreach (var (r, j) in files)
            {
                double max = j!["max_weight"]!.GetValue<double>();
                int arg = j["modules"]!.AsArray().Select((m, i) => (w: m!["weight"]!.GetValue<double>(), i)).MaxBy(x => x.w).i;
                if (max > 0.9)
                    Line(string.Create(Inv, $"- {r.Run}: the softmax is nearly one-hot: {modules[arg]} gets {max:P1} of the penalty, the other {modules.Count - 1} module(s) share {1 - max:P1}."));
            }
            if (files.All(f => f.J!["max_weight"]!.GetValue<double>() <= 0.9))
                Line(string.Create(Inv, $"- No run's weights are nearly one-hot (largest weight {files.Max(f => f.J!["max_weight"]!.GetValue<double>()):P1}; uniform would be {1.0 / modules.Count:P1})."));
            Line();
            var file = "layer-weights.png";
            Figures.Bars(Path.Combine(FigDir, file), "Layer weights w of Ours (mean over runs)", "w",
                [.. modules.Select(ShortModule)], meanW, "F3", Math.Max(800, 60 * modules.Count));
            Line(Fig(file, "layer weights"));
            Line();
        }

        static string ShortModule(string path)
        {
            var m = LayerIndex().Match(path);
            var name = path[(path.LastIndexOf('.') + 1)..];
            return m.Success ? $"{m.Groups[2].Value}.{name}" : name;
        }

        void Sweeps()
        {
            var sweeps = all.Where(r => r.Sweep is not null).GroupBy(r => r.Sweep!).ToList();
            if (sweeps.Count == 0) return;
            Line("## Sweeps");
            Line();
            foreach (var sweep in sweeps)
            {
                string key = sweep.Key, sym = key switch { "phi" => "φ", "xi" => "ξ", _ => key };
                Line($"### {sym}");
                Line();
                Line($"Ours with {sym} varied, everything else as configured; mean ± sd over seeds.");
                Line();
                foreach (var t in _tasks)
                {
                    var points = sweep.Where(r => r.Task == t && r.SweepValue is not null).GroupBy(r => r.SweepValue!.Value).OrderBy(g => g.Key).ToList();
                    if (points.Count == 0) continue;
                    var table = new MarkdownTable([sym, "general PPL ↓", $"{t} acc % ↑", $"{t} acc_norm % ↑"], [ColumnAlign.Right, ColumnAlign.Right, ColumnAlign.Right, ColumnAlign.Right]);
                    foreach (var g in points)
                    {
                        var p = MeanSd.Of(g.Select(r => r.GeneralPpl).ToList());
                        var a = MeanSd.Of(g.Select(r => 100 * r.Acc).ToList());
                        var an = MeanSd.Of(g.Select(r => 100 * r.AccNorm).ToList());
                        table.AddRow(g.Key.ToString("G4", Inv), MarkdownTable.FormatMeanSd(p.Mean, p.Sd), MarkdownTable.FormatMeanSd(a.Mean, a.Sd), MarkdownTable.FormatMeanSd(an.Mean, an.Sd));
                    }
                    Line(table.ToString());
                    double[] x = [.. points.Select(g => g.Key)];
                    bool logX = key != "rank" && x.All(v => v > 0) && x.Length > 1 && x.Max() / x.Min() >= 10;
                    var file = $"sweep-{key}-{Safe(t)}.png";
                    Figures.Sweep(Path.Combine(FigDir, file), $"Ours: general perplexity and {t} accuracy against {sym}", sym, x,
                        [("general PPL", [.. points.Select(g => g.Average(r => r.GeneralPpl))])], logX, "perplexity",
                        [($"{t} acc %", [.. points.Select(g => g.Average(r => 100 * r.Acc))])], "accuracy %");
                    Line(Fig(file, $"{key} sweep, {t}"));
                    Line();
                }
            }
        }

        void Costs()
        {
            Line("## Cost");
            Line();
            // one value per seed: the general stage and the Fisher are shared by every task and method of a seed
            var general = all.Where(r => r.GeneralStageSeconds is not null && r.Sweep is null).GroupBy(r => r.Seed).Select(g => g.First()).ToList();
            var fisher = all.Where(r => r.FisherSeconds is not null).GroupBy(r => r.Seed).Select(g => g.First()).ToList();
            var table = new MarkdownTable(["Importance estimate", "seconds", "bytes", "runs"], [ColumnAlign.Left, ColumnAlign.Right, ColumnAlign.Right, ColumnAlign.Right]);
            var labels = new List<string>();
            var secs = new List<double>();
            if (general.Count > 0)
            {
                var si = general.Where(r => r.SiRecordSeconds is not null).Select(r => r.SiRecordSeconds!.Value).ToList();
                var whole = general.Select(r => r.GeneralStageSeconds!.Value).ToList();
                var omega = general.Where(r => r.OmegaBytes is not null).Select(r => (double)r.OmegaBytes!.Value).ToList();
                table.AddRow("SI recording (overhead inside the general stage)", MS(si, 3), omega.Count > 0 ? Bytes(omega.Average()) + " (Ω)" : "n/a", si.Count.ToString(Inv));
                table.AddRow("whole general stage (LoRA on general data + SI)", MS(whole, 2), "", whole.Count.ToString(Inv));
                labels.Add("SI recording"); secs.Add(si.Count > 0 ? si.Average() : double.NaN);
                labels.Add("general stage"); secs.Add(whole.Average());
            }
            if (fisher.Count > 0)
            {
                var fs = fisher.Select(r => r.FisherSeconds!.Value).ToList();
                var fb = fisher.Where(r => r.FisherBytes is not null).Select(r => (double)r.FisherBytes!.Value).ToList();
                table.AddRow("EWC Fisher pass", MS(fs, 2), fb.Count > 0 ? Bytes(fb.Average()) + " (F)" : "n/a", fs.Distinct().Count().ToString(Inv));
                labels.Add("Fisher pass"); secs.Add(fs.Average());
            }
            if (labels.Count > 0)
            {
                Line("Time and storage of the importance estimate: SI records during the general stage, whose LoRA training the ν+μ methods need anyway; "
                    + "EWC's Fisher is a separate pass over general data with one sample per gradient. Ω and F both hold one float per element of every target weight.");
                Line();
                Line(table.ToString());
                var file = "cost-seconds.png";
                Figures.Bars(Path.Combine(FigDir, file), "Importance estimate: wall time (mean over seeds)", "seconds", [.. labels], [.. secs], "G3");
                Line(Fig(file, "cost in seconds"));
                Line();
            }
            var per = new MarkdownTable(["Method", "domain-stage seconds", "peak memory (domain stage)"], [ColumnAlign.Left, ColumnAlign.Right, ColumnAlign.Right]);
            foreach (var m in _methods.Where(m => m != "base"))
            {
                var rows = _main.Where(r => r.Method == m).ToList();
                var mem = rows.Where(r => r.PeakMemoryBytes is not null).Select(r => (double)r.PeakMemoryBytes!.Value).ToList();
                per.AddRow(ExperimentMethods.Display(m), MS(rows.Where(r => r.TrainSeconds is not null).Select(r => r.TrainSeconds!.Value).ToList(), 2),
                    mem.Count > 0 ? Bytes(mem.Max()) : "n/a");
            }
            Line("Training time per domain-stage run and the largest peak resident memory (host RAM, the process's high-water mark during the run) over its runs:");
            Line();
            Line(per.ToString());
            var mems = _methods.Where(m => m != "base").Select(m => (m, v: _main.Where(r => r.Method == m && r.PeakMemoryBytes is not null).Select(r => (double)r.PeakMemoryBytes!.Value).DefaultIfEmpty(double.NaN).Max())).ToList();
            if (mems.Count > 0)
            {
                var file = "cost-memory.png";
                Figures.Bars(Path.Combine(FigDir, file), "Peak memory of the domain stage", "MiB", [.. mems.Select(x => ExperimentMethods.Display(x.m))],
                    [.. mems.Select(x => x.v / (1 << 20))], "F0");
                Line(Fig(file, "peak memory"));
                Line();
            }
        }

        void Files()
        {
            Line("## Files");
            Line();
            Line("- `results.csv`: one row per method × seed × task (sweep rows name the swept key); the tables above are computed from it.");
            Line("- `runs/NAME/`: one folder per run: `job.json` (what it computes), `config.json`, `metrics.jsonl`, the PEFT adapter, "
                + "`importance.safetensors` (general stage), `layer_weights.json`, `eval.json`, `summary.json` and `result.json` (configuration, metrics, evaluation and costs).");
            Line("- `plan.json`: the jobs, what each depends on, and which run serves each row; `experiment.json`: the configuration as resolved.");
        }

        static string F(double v, string fmt) => double.IsNaN(v) ? "n/a" : double.IsPositiveInfinity(v) ? "∞" : double.IsNegativeInfinity(v) ? "−∞" : v.ToString(fmt, Inv);

        static string P(double p) => double.IsNaN(p) ? "n/a" : p < 1e-4 ? p.ToString("0.00E+0", Inv) : p.ToString("F4", Inv);

        static string MS(List<double> v, int decimals) => v.Count == 0 ? "n/a"
            : MarkdownTable.FormatMeanSd(Summary.Mean(v), v.Count > 1 ? Summary.StandardDeviation(v) : double.NaN, decimals);

        static string Bytes(double b) => b switch
        {
            >= 1 << 30 => (b / (1 << 30)).ToString("F2", Inv) + " GiB",
            >= 1 << 20 => (b / (1 << 20)).ToString("F2", Inv) + " MiB",
            >= 1 << 10 => (b / (1 << 10)).ToString("F1", Inv) + " KiB",
            _ => b.ToString("F0", Inv) + " B",
        };
    }
}
