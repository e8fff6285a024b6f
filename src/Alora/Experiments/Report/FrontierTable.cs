using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// The perplexity each method's curve keeps at a matched domain accuracy: within 1 point of LoRA(μ)'s accuracy, and at
/// 90 % of LoRA(μ)'s gain over Base. Read off the curve of means by linear interpolation between the two strengths whose
/// accuracies bracket the target (<see cref="Frontier"/>); per seed the same on that seed's curve gives the pairs of a
/// paired t-test of Ours against each rival.
/// </summary>
internal static class FrontierTable
{
    const string LoraMu = "lora-mu";

    public static void Write(ReportDocument doc, string t, IReadOnlyList<CurveKey> curved)
    {
        if (!doc.Methods.Contains(LoraMu))
        {
            doc.Line($"No matched-accuracy table: it is read at LoRA(μ)'s accuracy, and {LoraMu} is not in the experiment.");
            doc.Line();
            return;
        }
        double loraAcc = Summary.Mean(doc.Of(LoraMu, t).Select(r => r.Acc).ToList());
        var targets = new List<(string Label, double Acc)> { ($"{Pct(loraAcc - 0.01)} (LoRA(μ) − 1 point)", loraAcc - 0.01) };
        if (doc.Methods.Contains(ExperimentMethods.Base))
        {
            double baseAcc = Summary.Mean(doc.Of(ExperimentMethods.Base, t).Select(r => r.Acc).ToList());
            double a = baseAcc + 0.9 * (loraAcc - baseAcc);
            targets.Add(($"{Pct(a)} (90 % of LoRA(μ)'s gain)", a));
        }
        var table = new MarkdownTable(
            [
                "Method",
                "strengths",
                .. targets.Select(x => $"PPL at acc {x.Label}"),
                .. targets.Select(x => $"Ours − it at {Pct(x.Acc)} (paired t, p, seeds)"),
            ],
            [ColumnAlign.Left, .. Enumerable.Repeat(ColumnAlign.Right, 1 + 2 * targets.Count)]
        );
        var ours = new CurveKey(ReportDocument.Ours, null);
        foreach (var m in curved)
        {
            var curve = ReportFrontier.Strengths(doc, m, t);
            var mean = curve
                .Select(kv => new FrontierPoint(
                    kv.Key,
                    Summary.Mean(kv.Value.Select(r => r.GeneralPpl).ToList()),
                    Summary.Mean(kv.Value.Select(r => r.Acc).ToList())
                ))
                .ToList();
            var cells = new List<string> { m.Display, curve.Count.ToString(ReportDocument.Inv) };
            cells.AddRange(targets.Select(x => Frontier.PplAtAccuracy(mean, x.Acc) is { } v ? v.ToString("F3", ReportDocument.Inv) : "—"));
            cells.AddRange(targets.Select(x => m == ours || !curved.Contains(ours) ? "" : Paired(doc, t, ours, m, x.Acc)));
            table.AddRow([.. cells]);
        }
        doc.Line(table.ToString());
        doc.Line(
            "— : the curve does not reach that accuracy (never extrapolated). Where several segments of a curve cross the target, "
                + "the strongest setting's is read. The test pairs seeds: per seed, each method's own curve is read at the same target."
        );
        doc.Line();
    }

    static string Paired(ReportDocument doc, string t, CurveKey ours, CurveKey rival, double acc)
    {
        var (seeds, test) = Frontier.PairedAtAccuracy(PerSeed(doc, ours, t), PerSeed(doc, rival, t), acc);
        if (!test.IsOrdinary && double.IsNaN(test.T))
            return $"n/a ({seeds.Count} seeds)";
        return string.Create(ReportDocument.Inv, $"{test.Mean1 - test.Mean2:+0.000;-0.000} (t {test.T:F2}, p {test.P:G3}, {seeds.Count})");
    }

    static Dictionary<long, IReadOnlyList<FrontierPoint>> PerSeed(ReportDocument doc, CurveKey m, string t) =>
        ReportFrontier
            .Strengths(doc, m, t)
            .SelectMany(kv => kv.Value.Select(r => (r.Seed, Point: new FrontierPoint(kv.Key, r.GeneralPpl, r.Acc))))
            .GroupBy(x => x.Seed)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<FrontierPoint>)g.Select(x => x.Point).ToList());

    static string Pct(double acc) => (100 * acc).ToString("F1", ReportDocument.Inv) + " %";
}
