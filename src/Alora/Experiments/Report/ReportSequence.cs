using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// Sequential tuning (the config's sequence): per domain task and stage, what each method kept of the first task and of
/// the general text after training on the later task, beside what it had after the first, with a paired test over
/// seeds of Ours' retained accuracy against each other method's.
/// </summary>
internal static class ReportSequence
{
    public static void Write(ReportDocument doc)
    {
        if (doc.Sequence.Count == 0)
            return;
        doc.Line("## Sequential domains");
        doc.Line();
        doc.Line(
            "Each method's run on the first task continued into the next task of the sequence as the same method at its configured "
                + "strength, from the previous stage's adapter: Ours anchored at the previous stage's end with the importance "
                + "summed over the stages so far (eq. 15), EWC(ν) with its Fisher at the new start, EWC-LoRA with its Fisher and "
                + "W0, replay still replaying the general text. Retained = the first task's accuracy after the stage over its "
                + "accuracy after the first task, per seed. Means ± sd over seeds."
        );
        doc.Line();
        foreach (var first in doc.Tasks)
        foreach (var stage in doc.Sequence.Select(r => r.SweepValue).Distinct().Order())
        {
            var rows = doc.Sequence.Where(r => r.SweepValue == stage && r.Probes.TryGetValue(first, out var v) && !double.IsNaN(v.Acc)).ToList();
            if (rows.Count == 0)
                continue;
            Table(doc, first, rows[0].Task, rows);
        }
    }

    static void Table(ReportDocument doc, string first, string task, List<ResultRow> stageRows)
    {
        var methods = doc.Methods.Where(m => stageRows.Any(r => r.Method == m)).ToList();
        // per method, the (first-task row, stage row) pairs of each seed that has both
        List<(ResultRow Before, ResultRow After)> Pairs(string m) =>
            [
                .. stageRows
                    .Where(r => r.Method == m)
                    .Select(a => (Before: doc.Of(m, first).FirstOrDefault(b => b.Seed == a.Seed), After: a))
                    .Where(p => p.Before is not null)
                    .Select(p => (p.Before!, p.After))
                    .OrderBy(p => p.After.Seed),
            ];
        static double Retained(ResultRow before, ResultRow after) => after.Probes[before.Task].Acc / before.Acc;
        var cols = new List<(string Name, BestIs Best, Func<ResultRow, ResultRow, double> Get)>
        {
            ($"general PPL after {first} ↓", BestIs.Min, (b, _) => b.GeneralPpl),
            ($"general PPL after {task} ↓", BestIs.Min, (_, a) => a.GeneralPpl),
            ($"{first} acc % after {first} ↑", BestIs.Max, (b, _) => 100 * b.Acc),
            ($"{first} acc % after {task} ↑", BestIs.Max, (b, a) => 100 * a.Probes[first].Acc),
            ($"{first} retained % ↑", BestIs.Max, (b, a) => 100 * Retained(b, a)),
            ($"{task} acc % ↑", BestIs.Max, (_, a) => 100 * a.Acc),
        };
        foreach (var p in doc.Probes)
            cols.Add(($"{p} acc % after {task} ↑", BestIs.Max, (_, a) => a.Probes.TryGetValue(p, out var v) ? 100 * v.Acc : double.NaN));
        doc.Line($"### {first} → {task}");
        doc.Line();
        doc.Line(
            MarkdownTable.MeanSdTable(
                "Method",
                cols.Select(c => c.Name).ToList(),
                cols.Select(c => c.Best).ToList(),
                methods
                    .Select(m =>
                        (
                            ExperimentMethods.Display(m),
                            (IReadOnlyList<MeanSd>)cols.Select(c => MeanSd.Of(Pairs(m).Select(p => c.Get(p.Before, p.After)).ToList())).ToList()
                        )
                    )
                    .ToList()
            )
        );
        doc.Line();
        if (!methods.Contains(ReportDocument.Ours))
            return;
        // Ours' accuracy on the first task after this stage against each other method's, seed by seed
        var ours = Pairs(ReportDocument.Ours).ToDictionary(p => p.After.Seed, p => 100 * p.After.Probes[first].Acc);
        var table = new MarkdownTable(["Method", $"Ours − it: {first} acc % after {task}", "t", "p", "seeds"]);
        foreach (var m in methods.Where(m => m != ReportDocument.Ours))
        {
            var shared = Pairs(m).Where(p => ours.ContainsKey(p.After.Seed)).ToList();
            var test = PairedTTest.Run(shared.Select(p => ours[p.After.Seed]).ToList(), shared.Select(p => 100 * p.After.Probes[first].Acc).ToList());
            table.AddRow(
                ExperimentMethods.Display(m),
                (test.Mean1 - test.Mean2).ToString("+0.00;-0.00", ReportDocument.Inv),
                test.T.ToString("+0.00;-0.00", ReportDocument.Inv),
                test.P.ToString("0.0000", ReportDocument.Inv),
                shared.Count.ToString(ReportDocument.Inv)
            );
        }
        doc.Line(table.ToString());
        doc.Line();
    }
}
