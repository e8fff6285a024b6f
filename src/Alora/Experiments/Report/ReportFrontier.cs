using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// The trade-off frontier: per task, domain accuracy against general perplexity for every method, a curve over the
/// strengths of each method that has one (its configured run and its sweeps.strength points), single points for the
/// others; a second figure per probe; and the table that answers "which method keeps the most at the accuracy I
/// need": the perplexity each curve keeps at a matched accuracy, with a paired test of Ours against each rival.
/// </summary>
internal static class ReportFrontier
{
    public static void Write(ReportDocument doc)
    {
        var curved = Curves(doc).Where(c => doc.Tasks.Any(t => Strengths(doc, c, t).Count >= 2)).ToList();
        if (curved.Count == 0)
            return;
        doc.Line("## Trade-off frontier");
        doc.Line();
        doc.Line(
            "Each method with a strength (φ, λ...) is a curve through its strengths, means over seeds with the seeds' sd as error bars; "
                + "methods without one are single points. Up and to the left is better: more of the domain, less general perplexity lost."
        );
        doc.Line();
        foreach (var t in doc.Tasks)
        {
            if (doc.Tasks.Count > 1)
            {
                doc.Line($"### {t}");
                doc.Line();
            }
            Figure(doc, t, "general PPL ↓", r => r.GeneralPpl, "frontier");
            foreach (var p in doc.Probes)
                Figure(doc, t, $"{p} acc % ↑", r => 100 * (r.Probes.TryGetValue(p, out var v) ? v.Acc : double.NaN), $"frontier-{p}");
            FrontierTable.Write(doc, t, curved);
        }
    }

    static void Figure(ReportDocument doc, string t, string xLabel, Func<ResultRow, double> x, string stem)
    {
        var curves = new List<FrontierCurve>();
        foreach (var c in Curves(doc))
        {
            var points = Strengths(doc, c, t);
            var groups = points.Count > 0 || c.Variant is not null ? points.Values.ToList() : [doc.Of(c.Method, t).ToList()];
            if (groups.All(g => g.Count == 0))
                continue;
            var xs = groups.Select(g => MeanSd.Of(g.Select(x).ToList())).ToList();
            var ys = groups.Select(g => MeanSd.Of(g.Select(r => 100 * r.Acc).ToList())).ToList();
            curves.Add(
                new FrontierCurve(
                    c.Display,
                    [.. xs.Select(v => v.Mean)],
                    [.. ys.Select(v => v.Mean)],
                    [.. xs.Select(v => v.Sd)],
                    [.. ys.Select(v => v.Sd)]
                )
            );
        }
        var file = $"{stem}-{ReportDocument.Safe(t)}.png";
        Figures.Frontier(Path.Combine(doc.FigDir, file), $"{t}: accuracy against {xLabel.TrimEnd(' ', '↓', '↑')}", xLabel, $"{t} acc % ↑", curves);
        doc.Line(ReportDocument.Fig(file, $"{t} trade-off ({xLabel})"));
        doc.Line();
    }

    /// <summary>
    /// A method's rows on a task by strength, in order of strength, one row per seed and strength (its configured run
    /// stands in the main grid and again as a sweep point). Empty for a method without a strength.
    /// </summary>
    public static SortedDictionary<double, List<ResultRow>> Strengths(ReportDocument doc, CurveKey curve, string task)
    {
        var byStrength = new SortedDictionary<double, List<ResultRow>>();
        if (!ExperimentMethods.HasStrength(curve.Method))
            return byStrength;
        // alora's phi sweep holds points of its curve too, when phi is its strength; a layer-weights variant is its own curve
        var rows = doc.All.Where(r =>
            r.Method == curve.Method
            && r.Task == task
            && r.Strength is not null
            && (
                curve.Variant is null
                    ? r.Sweep is null or "strength" || (r.Sweep == "phi" && r.Phi == r.Strength)
                    : r.Sweep == "layer-weights" && r.LayerWeights == curve.Variant
            )
        );
        foreach (var g in rows.GroupBy(r => r.Strength!.Value))
            byStrength[g.Key] = g.GroupBy(r => r.Seed).Select(s => s.First()).ToList();
        return byStrength;
    }

    /// <summary>Every method's curve, and for Ours one more per other layer weighting the experiment compared (sweeps.layer-weights).</summary>
    public static IReadOnlyList<CurveKey> Curves(ReportDocument doc) =>
        [
            .. doc.Methods.Select(m => new CurveKey(m, null)),
            .. doc
                .All.Where(r => r.Method == ReportDocument.Ours && r.Sweep == "layer-weights" && r.LayerWeights is not null)
                .Select(r => r.LayerWeights!)
                .Distinct()
                .Select(w => new CurveKey(ReportDocument.Ours, w)),
        ];
}

/// <summary>A curve of the frontier: a method, or (Variant) Ours with another layer weighting.</summary>
internal sealed record CurveKey(string Method, string? Variant)
{
    public string Display => Variant is null ? ExperimentMethods.Display(Method) : $"{ExperimentMethods.Display(Method)} ({Variant})";
}
