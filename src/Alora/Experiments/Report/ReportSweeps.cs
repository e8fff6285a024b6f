using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// Ours with one key varied (φ, ξ, the rank...), everything else as configured: per swept key and task a table of
/// mean ± sd over seeds and a plot of general perplexity and accuracy against the key.
/// </summary>
internal static class ReportSweeps
{
    public static void Write(ReportDocument doc)
    {
        // strength points and layer-weight curves belong to the frontier
        var sweeps = doc
            .All.Where(r => r.Sweep is not null and not "strength" and not "layer-weights" and not ExperimentPlanner.SequenceSweep)
            .GroupBy(r => r.Sweep!)
            .ToList();
        if (sweeps.Count == 0)
            return;
        doc.Line("## Sweeps");
        doc.Line();
        foreach (var sweep in sweeps)
        {
            string key = sweep.Key,
                sym = key switch
                {
                    "phi" => "φ",
                    "xi" => "ξ",
                    _ => key,
                };
            doc.Line($"### {sym}");
            doc.Line();
            doc.Line($"Ours with {sym} varied (the configured value included), everything else as configured; mean ± sd over seeds.");
            doc.Line();
            foreach (var t in doc.Tasks)
                TaskSweep(doc, sweep, key, sym, t);
        }
    }

    static void TaskSweep(ReportDocument doc, IGrouping<string, ResultRow> sweep, string key, string sym, string t)
    {
        var points = sweep.Where(r => r.Task == t && r.SweepValue is not null).GroupBy(r => r.SweepValue!.Value).OrderBy(g => g.Key).ToList();
        if (points.Count == 0)
            return;
        var table = new MarkdownTable(
            [sym, "general PPL ↓", $"{t} acc % ↑", $"{t} acc_norm % ↑"],
            [ColumnAlign.Right, ColumnAlign.Right, ColumnAlign.Right, ColumnAlign.Right]
        );
        foreach (var g in points)
        {
            var p = MeanSd.Of(g.Select(r => r.GeneralPpl).ToList());
            var a = MeanSd.Of(g.Select(r => 100 * r.Acc).ToList());
            var an = MeanSd.Of(g.Select(r => 100 * r.AccNorm).ToList());
            table.AddRow(
                g.Key.ToString("G4", ReportDocument.Inv),
                MarkdownTable.FormatMeanSd(p.Mean, p.Sd),
                MarkdownTable.FormatMeanSd(a.Mean, a.Sd),
                MarkdownTable.FormatMeanSd(an.Mean, an.Sd)
            );
        }
        doc.Line(table.ToString());
        double[] x = [.. points.Select(g => g.Key)];
        // a log axis when the values are positive and span at least a factor of 10 (the rank is always linear)
        bool logX = key != "rank" && x.All(v => v > 0) && x.Length > 1 && x.Max() / x.Min() >= 10;
        var file = $"sweep-{key}-{ReportDocument.Safe(t)}.png";
        Figures.Sweep(
            Path.Combine(doc.FigDir, file),
            $"Ours: general perplexity and {t} accuracy against {sym}",
            sym,
            x,
            [("general PPL", [.. points.Select(g => g.Average(r => r.GeneralPpl))])],
            logX,
            "perplexity",
            [($"{t} acc %", [.. points.Select(g => g.Average(r => 100 * r.Acc))])],
            "accuracy %"
        );
        doc.Line(ReportDocument.Fig(file, $"{key} sweep, {t}"));
        doc.Line();
    }
}
