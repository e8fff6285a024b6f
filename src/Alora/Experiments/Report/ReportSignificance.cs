using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// Ours against each baseline: Student's and Welch's two-sample t-tests over seeds (two-sided) of the general
/// perplexity and the accuracy, one table per task.
/// </summary>
internal static class ReportSignificance
{
    public static void Write(ReportDocument doc)
    {
        if (!doc.Methods.Contains(ReportDocument.Ours))
            return;
        doc.Line("## Ours against each baseline");
        doc.Line();
        doc.Line(
            "Independent two-sample t-tests over seeds (two-sided), Student's (pooled variance) and Welch's (unequal variances). "
                + "t > 0 means Ours has the larger mean. With few seeds the tests have little power; n/a means a group has fewer than 2 seeds."
        );
        doc.Line();
        foreach (var t in doc.Tasks)
        {
            if (doc.Tasks.Count > 1)
            {
                doc.Line($"### {t}");
                doc.Line();
            }
            TaskTable(doc, t);
        }
        doc.Line("The per-seed values behind these tests are the box plots under Results.");
        doc.Line();
    }

    /// <summary>One task's table, then the reasons a test gave no number, once each.</summary>
    static void TaskTable(ReportDocument doc, string t)
    {
        var table = new MarkdownTable(
            ["Baseline", "Metric", "Ours", "Baseline mean", "Student t", "df", "p", "Welch t", "df", "p"],
            [ColumnAlign.Left, ColumnAlign.Left, .. Enumerable.Repeat(ColumnAlign.Right, 8)]
        );
        var notes = new List<string>();
        foreach (var b in doc.Methods.Where(m => m != ReportDocument.Ours))
        {
            foreach (var (metric, get) in new (string, Func<ResultRow, double>)[] { ("general PPL", r => r.GeneralPpl), ("acc %", r => 100 * r.Acc) })
            {
                var g1 = doc.Of(ReportDocument.Ours, t).Select(get).ToList();
                var g2 = doc.Of(b, t).Select(get).ToList();
                var s = TTest.Student(g1, g2);
                var w = TTest.Welch(g1, g2);
                table.AddRow(
                    ExperimentMethods.Display(b),
                    metric,
                    MarkdownTable.FormatMeanSd(s.Mean1, s.Sd1),
                    MarkdownTable.FormatMeanSd(s.Mean2, s.Sd2),
                    F(s.T, "F3"),
                    F(s.Df, "F2"),
                    P(s.P),
                    F(w.T, "F3"),
                    F(w.Df, "F2"),
                    P(w.P)
                );
                foreach (var reason in new[] { s.Reason, w.Reason }.OfType<string>().Distinct())
                    notes.Add($"{ExperimentMethods.Display(b)}, {metric}: {reason}.");
            }
        }
        doc.Line(table.ToString());
        foreach (var n in notes.Distinct())
            doc.Line("- " + n);
        if (notes.Count > 0)
            doc.Line();
    }

    static string F(double v, string fmt) =>
        double.IsNaN(v) ? "n/a"
        : double.IsPositiveInfinity(v) ? "∞"
        : double.IsNegativeInfinity(v) ? "−∞"
        : v.ToString(fmt, ReportDocument.Inv);

    static string P(double p) =>
        double.IsNaN(p) ? "n/a"
        : p < 1e-4 ? p.ToString("0.00E+0", ReportDocument.Inv)
        : p.ToString("F4", ReportDocument.Inv);
}
