using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// The cost section: time and bytes of the importance estimate (SI recording inside the general stage, the
/// whole general stage, EWC's Fisher pass), then each method's domain-stage time and peak memory.
/// </summary>
internal static class ReportCosts
{
    public static void Write(ReportDocument doc)
    {
        doc.Line("## Cost");
        doc.Line();
        Importance(doc);
        PerMethod(doc);
    }

    static void Importance(ReportDocument doc)
    {
        // one value per seed: the general stage and the Fisher are shared by every task and method of a seed
        var general = doc.All.Where(r => r.GeneralStageSeconds is not null && r.Sweep is null).GroupBy(r => r.Seed).Select(g => g.First()).ToList();
        var fisher = doc.All.Where(r => r.FisherSeconds is not null).GroupBy(r => r.Seed).Select(g => g.First()).ToList();
        var table = new MarkdownTable(
            ["Importance estimate", "seconds", "bytes", "runs"],
            [ColumnAlign.Left, ColumnAlign.Right, ColumnAlign.Right, ColumnAlign.Right]
        );
        var labels = new List<string>();
        var secs = new List<double>();
        if (general.Count > 0)
        {
            var si = general.Where(r => r.SiRecordSeconds is not null).Select(r => r.SiRecordSeconds!.Value).ToList();
            var whole = general.Select(r => r.GeneralStageSeconds!.Value).ToList();
            var omega = general.Where(r => r.OmegaBytes is not null).Select(r => (double)r.OmegaBytes!.Value).ToList();
            table.AddRow(
                "SI recording (overhead inside the general stage)",
                MS(si, 3),
                omega.Count > 0 ? Bytes(omega.Average()) + " (Ω)" : "n/a",
                si.Count.ToString(ReportDocument.Inv)
            );
            table.AddRow("whole general stage (LoRA on general data + SI)", MS(whole, 2), "", whole.Count.ToString(ReportDocument.Inv));
            labels.Add("SI recording");
            secs.Add(si.Count > 0 ? si.Average() : double.NaN);
            labels.Add("general stage");
            secs.Add(whole.Average());
        }
        if (fisher.Count > 0)
        {
            var fs = fisher.Select(r => r.FisherSeconds!.Value).ToList();
            var fb = fisher.Where(r => r.FisherBytes is not null).Select(r => (double)r.FisherBytes!.Value).ToList();
            table.AddRow("EWC Fisher pass", MS(fs, 2), fb.Count > 0 ? Bytes(fb.Average()) + " (F)" : "n/a", fs.Count.ToString(ReportDocument.Inv));
            labels.Add("Fisher pass");
            secs.Add(fs.Average());
        }
        if (labels.Count == 0)
            return;
        doc.Line(
            "Time and storage of the importance estimate: SI records during the general stage, whose LoRA training the ν+μ methods need anyway; "
                + "EWC's Fisher is a separate pass over general data with one sample per gradient. Ω and F both hold one float per element of every target weight."
        );
        doc.Line();
        doc.Line(table.ToString());
        var file = "cost-seconds.png";
        Figures.Bars(Path.Combine(doc.FigDir, file), "Importance estimate: wall time (mean over seeds)", "seconds", [.. labels], [.. secs], "G3");
        doc.Line(ReportDocument.Fig(file, "cost in seconds"));
        doc.Line();
    }

    static void PerMethod(ReportDocument doc)
    {
        var trained = doc.Methods.Where(m => m != "base").ToList();
        var per = new MarkdownTable(
            ["Method", "domain-stage seconds", "peak memory (domain stage)"],
            [ColumnAlign.Left, ColumnAlign.Right, ColumnAlign.Right]
        );
        foreach (var m in trained)
        {
            var rows = doc.Main.Where(r => r.Method == m).ToList();
            var mem = rows.Where(r => r.PeakMemoryBytes is not null).Select(r => (double)r.PeakMemoryBytes!.Value).ToList();
            per.AddRow(
                ExperimentMethods.Display(m),
                MS(rows.Where(r => r.TrainSeconds is not null).Select(r => r.TrainSeconds!.Value).ToList(), 2),
                mem.Count > 0 ? Bytes(mem.Max()) : "n/a"
            );
        }
        doc.Line(
            "Training time per domain-stage run and the largest peak resident memory (host RAM, the process's high-water mark during the run) over its runs:"
        );
        doc.Line();
        doc.Line(per.ToString());
        var mems = trained
            .Select(m =>
                (
                    m,
                    v: doc.Main.Where(r => r.Method == m && r.PeakMemoryBytes is not null)
                        .Select(r => (double)r.PeakMemoryBytes!.Value)
                        .DefaultIfEmpty(double.NaN)
                        .Max()
                )
            )
            .ToList();
        if (mems.Count == 0)
            return;
        var file = "cost-memory.png";
        Figures.Bars(
            Path.Combine(doc.FigDir, file),
            "Peak memory of the domain stage",
            "MiB",
            [.. mems.Select(x => ExperimentMethods.Display(x.m))],
            [.. mems.Select(x => x.v / (1 << 20))],
            "F0"
        );
        doc.Line(ReportDocument.Fig(file, "peak memory"));
        doc.Line();
    }

    /// <summary>Mean ± sd of the values with this many decimals (no sd for one value); n/a for none.</summary>
    static string MS(List<double> v, int decimals) =>
        v.Count == 0 ? "n/a" : MarkdownTable.FormatMeanSd(Summary.Mean(v), v.Count > 1 ? Summary.StandardDeviation(v) : double.NaN, decimals);

    static string Bytes(double b) =>
        b switch
        {
            >= 1 << 30 => (b / (1 << 30)).ToString("F2", ReportDocument.Inv) + " GiB",
            >= 1 << 20 => (b / (1 << 20)).ToString("F2", ReportDocument.Inv) + " MiB",
            >= 1 << 10 => (b / (1 << 10)).ToString("F1", ReportDocument.Inv) + " KiB",
            _ => b.ToString("F0", ReportDocument.Inv) + " B",
        };
}
