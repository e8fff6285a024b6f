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
        var curved = doc.Methods.Where(m => doc.Tasks.Any(t => Strengths(doc, m, t).Count >= 2)).ToList();
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
        foreach (var m in doc.Methods)
        {
            var points = Strengths(doc, m, t);
            var groups = points.Count > 0 ? points.Values.ToList() : [doc.Of(m, t).ToList()];
            if (groups.All(g => g.Count == 0))
                continue;
            var xs = groups.Select(g => MeanSd.Of(g.Select(x).ToList())).ToList();
            var ys = groups.Select(g => MeanSd.Of(g.Select(r => 100 * r.Acc).ToList())).ToList();
            curves.Add(
                new FrontierCurve(
                    ExperimentMethods.Display(m),
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
    public static SortedDictionary<double, List<ResultRow>> Strengths(ReportDocument doc, string method, string task)
    {
        var byStrength = new SortedDictionary<double, List<ResultRow>>();
        if (!ExperimentMethods.HasStrength(method))
            return byStrength;
        // alora's phi sweep holds points of its curve too, when phi is its strength
        var rows = doc.All.Where(r =>
            r.Method == method
            && r.Task == task
            && r.Strength is not null
            && (r.Sweep is null or "strength" || (r.Sweep == "phi" && r.Phi == r.Strength))
        );
        foreach (var g in rows.GroupBy(r => r.Strength!.Value))
            byStrength[g.Key] = g.GroupBy(r => r.Seed).Select(s => s.First()).ToList();
        return byStrength;
    }
}
