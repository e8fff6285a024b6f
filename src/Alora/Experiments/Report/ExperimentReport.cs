using Alora.IO;

namespace Alora.Experiments;

/// <summary>
/// DIR/report.md and DIR/figures/*.png from results.csv and the run folders: the results table, the ablation,
/// t-tests of Ours against each baseline with per-seed distributions, domain-stage loss curves, the importance
/// heat map, the layer weights used, the sweeps, and the cost of the importance estimate against the Fisher.
/// Each section is a class of its own (ReportResults, ReportSignificance...) writing into one <see cref="ReportDocument"/>.
/// </summary>
public static class ExperimentReport
{
    public static string Write(string outDir, ExperimentConfig config, IReadOnlyList<ResultRow> rows)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rows);
        var doc = new ReportDocument(Path.GetFullPath(outDir), config, rows);
        Directory.CreateDirectory(doc.FigDir);
        ReportHeader.Write(doc);
        ReportResults.Write(doc);
        ReportAblation.Write(doc);
        ReportSignificance.Write(doc);
        ReportFrontier.Write(doc);
        ReportSequence.Write(doc);
        ReportLossCurves.Write(doc);
        ReportImportance.Write(doc);
        ReportLayerWeights.Write(doc);
        ReportSweeps.Write(doc);
        ReportCosts.Write(doc);
        ReportFiles.Write(doc);
        var path = Path.Combine(outDir, "report.md");
        AtomicFile.WriteAllText(path, doc.Text);
        return path;
    }
}
