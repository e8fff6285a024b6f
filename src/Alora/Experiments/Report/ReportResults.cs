using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// The results table (general perplexity, accuracy and probe accuracy per task, mean ± sd over seeds) and the
/// per-seed box plots under it; <see cref="Columns"/> is shared with the ablation's table.
/// </summary>
internal static class ReportResults
{
    public static void Write(ReportDocument doc)
    {
        doc.Line("## Results");
        doc.Line();
        var (cols, best, cells) = Columns(doc);
        doc.Line(MarkdownTable.MeanSdTable("Method", cols, best, doc.Methods.Select(m => (ExperimentMethods.Display(m), cells(m))).ToList()));
        Distributions(doc);
    }

    /// <summary>The table's columns, which way is better in each, and a method's cells (its main rows, one cell per column).</summary>
    public static (List<string> Cols, List<BestIs> Best, Func<string, IReadOnlyList<MeanSd>> Cells) Columns(ReportDocument doc)
    {
        var cols = new List<string>();
        var best = new List<BestIs>();
        var getters = new List<Func<string, MeanSd>>();
        foreach (var t in doc.Tasks)
        {
            string p = doc.Tasks.Count > 1 ? t + ": " : "";
            cols.Add(p + "general PPL ↓");
            best.Add(BestIs.Min);
            getters.Add(m => MeanSd.Of(doc.Of(m, t).Select(r => r.GeneralPpl).ToList()));
            cols.Add(p + t + " acc % ↑");
            best.Add(BestIs.Max);
            getters.Add(m => MeanSd.Of(doc.Of(m, t).Select(r => 100 * r.Acc).ToList()));
            cols.Add(p + t + " acc_norm % ↑");
            best.Add(BestIs.Max);
            getters.Add(m => MeanSd.Of(doc.Of(m, t).Select(r => 100 * r.AccNorm).ToList()));
            foreach (var probe in doc.Probes)
            {
                cols.Add(p + probe + " acc % ↑");
                best.Add(BestIs.Max);
                getters.Add(m => MeanSd.Of(doc.Of(m, t).Select(r => r.Probes.TryGetValue(probe, out var v) ? 100 * v.Acc : double.NaN).ToList()));
            }
        }
        return (cols, best, m => getters.Select(g => g(m)).ToList());
    }

    /// <summary>Box plots of general perplexity and accuracy per seed, one pair per task.</summary>
    static void Distributions(ReportDocument doc)
    {
        if (doc.Methods.Count == 0)
            return;
        doc.Line("Per seed (box: quartiles and median; dots: seeds; diamond: mean):");
        doc.Line();
        foreach (var t in doc.Tasks)
        {
            var ppl = doc.Methods.ToDictionary(ExperimentMethods.Display, m => doc.Of(m, t).Select(r => r.GeneralPpl).ToArray());
            var acc = doc.Methods.ToDictionary(ExperimentMethods.Display, m => doc.Of(m, t).Select(r => 100 * r.Acc).ToArray());
            string f1 = $"{ReportDocument.Safe(t)}-general-ppl.png",
                f2 = $"{ReportDocument.Safe(t)}-acc.png";
            Figures.GroupDistribution(Path.Combine(doc.FigDir, f1), $"General perplexity per seed (tuned on {t})", "perplexity ↓", ppl);
            Figures.GroupDistribution(Path.Combine(doc.FigDir, f2), $"{t} accuracy per seed", "acc % ↑", acc);
            doc.Line(ReportDocument.Fig(f1, $"general perplexity per seed, {t}") + " " + ReportDocument.Fig(f2, $"accuracy per seed, {t}"));
            doc.Line();
        }
    }
}
