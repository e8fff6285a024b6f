using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// The domain stage's loss per step: for one penalised run (Ours' first seed, else the first run with a
/// penalty) its cross-entropy, penalty and sum; then each trained method's cross-entropy, mean over seeds.
/// </summary>
internal static class ReportLossCurves
{
    public static void Write(ReportDocument doc)
    {
        var trained = doc.Methods.Where(m => m != "base").ToList();
        if (trained.Count == 0)
            return;
        doc.Line("## Domain-stage loss");
        doc.Line();
        foreach (var t in doc.Tasks)
        {
            PenalisedRun(doc, t, trained);
            PerMethod(doc, t, trained);
        }
    }

    static void PenalisedRun(ReportDocument doc, string t, List<string> trained)
    {
        var ours = doc.Methods.Contains(ReportDocument.Ours) ? doc.Of(ReportDocument.Ours, t).OrderBy(r => r.Seed).FirstOrDefault() : null;
        var penalised = ours
            ?? trained
                .Select(m => doc.Of(m, t).OrderBy(r => r.Seed).FirstOrDefault())
                .FirstOrDefault(r => r is not null && ExperimentResults.ReadMetrics(doc.RunDir(r.Run)).Any(x => x.Penalty is not null));
        if (penalised is null)
            return;
        var m = ExperimentResults.ReadMetrics(doc.RunDir(penalised.Run));
        if (m.Count == 0)
            return;
        double[] x = [.. m.Select(v => (double)v.Step)];
        var file = $"loss-{ReportDocument.Safe(t)}.png";
        Figures.LossCurves(
            Path.Combine(doc.FigDir, file),
            $"{ExperimentMethods.Display(penalised.Method)} on {t}, seed {penalised.Seed}",
            [
                ("task loss (cross-entropy)", x, [.. m.Select(v => v.TaskLoss)]),
                ("scaled penalty", x, [.. m.Select(v => v.Penalty ?? 0)]),
                ("total", x, [.. m.Select(v => v.Loss)]),
            ]
        );
        doc.Line(
            $"{ExperimentMethods.Display(penalised.Method)} (seed {penalised.Seed}): the domain cross-entropy, the penalty as added to the loss (φ and the layer weights included) and their sum, per step. "
                + string.Create(
                    ReportDocument.Inv,
                    $"At the last step the penalty is {Ratio(m[^1].Penalty ?? 0, m[^1].TaskLoss)} of the cross-entropy."
                )
        );
        doc.Line();
        doc.Line(ReportDocument.Fig(file, $"domain-stage loss, {t}"));
        doc.Line();
    }

    /// <summary>Each method's task loss, mean over its seeds, over the steps every seed has.</summary>
    static void PerMethod(ReportDocument doc, string t, List<string> trained)
    {
        var series = new List<(string, double[], double[])>();
        foreach (var method in trained)
        {
            var runs = doc.Of(method, t).Select(r => ExperimentResults.ReadMetrics(doc.RunDir(r.Run))).Where(l => l.Count > 0).ToList();
            if (runs.Count == 0)
                continue;
            int n = runs.Min(l => l.Count);
            series.Add(
                (
                    ExperimentMethods.Display(method),
                    [.. Enumerable.Range(0, n).Select(i => (double)runs[0][i].Step)],
                    [.. Enumerable.Range(0, n).Select(i => runs.Average(l => l[i].TaskLoss))]
                )
            );
        }
        if (series.Count == 0)
            return;
        var file = $"loss-methods-{ReportDocument.Safe(t)}.png";
        Figures.LossCurves(Path.Combine(doc.FigDir, file), $"Domain task loss on {t}, mean over seeds", series, yLabel: "cross-entropy");
        doc.Line(ReportDocument.Fig(file, $"domain task loss per method, {t}"));
        doc.Line();
    }

    static string Ratio(double a, double b) => b > 0 ? (a / b).ToString("P1", ReportDocument.Inv) : "n/a";
}
