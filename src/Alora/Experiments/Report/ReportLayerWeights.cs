using System.Text.Json.Nodes;
using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// The layer weights Ours used (layer_weights.json of its domain-stage runs): per module ‖Ω‖₂ and w, mean over
/// runs, a note for each run whose softmax is nearly one-hot (largest w > 0.9), and a bar chart of the mean w.
/// </summary>
internal static class ReportLayerWeights
{
    const double NearlyOneHot = 0.9;

    public static void Write(ReportDocument doc)
    {
        var runs = doc.Main.Where(r => r.Method == ReportDocument.Ours).GroupBy(r => (r.Seed, r.Task)).Select(g => g.First()).ToList();
        var files = runs.Select(r => (r, J: ExperimentResults.ReadJson(Path.Combine(doc.RunDir(r.Run), "layer_weights.json"))))
            .Where(x => x.J is not null)
            .ToList();
        if (files.Count == 0)
            return;
        doc.Line("## Layer weights used");
        doc.Line();
        var first = files[0].J!;
        doc.Line(
            $"w = {first["weighting"]} of the modules' ‖Ω‖₂, computed once at the start of the domain stage (φ = {first["phi"]}). "
                + "Per module: the norm and the weight, mean over the runs of Ours."
        );
        doc.Line();
        var modules = first["modules"]!.AsArray().Select(m => m!["module"]!.GetValue<string>()).ToList();
        var meanW = Table(doc, files, modules);
        OneHotNotes(doc, files, modules);
        doc.Line();
        var file = "layer-weights.png";
        Figures.Bars(
            Path.Combine(doc.FigDir, file),
            "Layer weights w of Ours (mean over runs)",
            "w",
            [.. modules.Select(ShortModule)],
            meanW,
            "F3",
            Math.Max(800, 60 * modules.Count)
        );
        doc.Line(ReportDocument.Fig(file, "layer weights"));
        doc.Line();
    }

    /// <summary>Writes the per-module table and returns the mean weight of each module.</summary>
    static double[] Table(ReportDocument doc, List<(ResultRow Row, JsonNode? J)> files, List<string> modules)
    {
        var table = new MarkdownTable(["Module", "‖Ω‖₂", "weight w"], [ColumnAlign.Left, ColumnAlign.Right, ColumnAlign.Right]);
        var meanW = new double[modules.Count];
        for (int i = 0; i < modules.Count; i++)
        {
            var norms = files.Select(f => f.J!["modules"]![i]!["omega_norm"]!.GetValue<double>()).ToList();
            var ws = files.Select(f => f.J!["modules"]![i]!["weight"]!.GetValue<double>()).ToList();
            meanW[i] = ws.Average();
            table.AddRow(
                modules[i],
                norms.Average().ToString("G4", ReportDocument.Inv),
                MarkdownTable.FormatMeanSd(ws.Average(), files.Count > 1 ? Summary.StandardDeviation(ws) : double.NaN, 4)
            );
        }
        doc.Line(table.ToString());
        return meanW;
    }

    static void OneHotNotes(ReportDocument doc, List<(ResultRow Row, JsonNode? J)> files, List<string> modules)
    {
        foreach (var (r, j) in files)
        {
            double max = j!["max_weight"]!.GetValue<double>();
            int arg = j["modules"]!.AsArray().Select((m, i) => (w: m!["weight"]!.GetValue<double>(), i)).MaxBy(x => x.w).i;
            if (max > NearlyOneHot)
                doc.Line(
                    string.Create(
                        ReportDocument.Inv,
                        $"- {r.Run}: the softmax is nearly one-hot: {modules[arg]} gets {max:P1} of the penalty, the other {modules.Count - 1} module(s) share {1 - max:P1}."
                    )
                );
        }
        if (files.All(f => f.J!["max_weight"]!.GetValue<double>() <= NearlyOneHot))
            doc.Line(
                string.Create(
                    ReportDocument.Inv,
                    $"- No run's weights are nearly one-hot (largest weight {files.Max(f => f.J!["max_weight"]!.GetValue<double>()):P1}; uniform would be {1.0 / modules.Count:P1})."
                )
            );
    }

    /// <summary>A module's label on the chart: "layer.name" ("model.layers.3.self_attn.q_proj" -> "3.q_proj").</summary>
    static string ShortModule(string path)
    {
        var m = ReportImportance.LayerIndex().Match(path);
        var name = path[(path.LastIndexOf('.') + 1)..];
        return m.Success ? $"{m.Groups[2].Value}.{name}" : name;
    }
}
