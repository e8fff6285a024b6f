using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>
/// The importance heat map: ln ‖Ω‖₂ of each adapted module after the general stage (rows: module names,
/// columns: layers), the mean over the general-stage runs behind Ours.
/// </summary>
internal static partial class ReportImportance
{
    /// <summary>The layer index in a module path: the number between dots ("model.layers.3.self_attn.q_proj" -> 3, group 2).</summary>
    [GeneratedRegex(@"(^|\.)(\d+)\.")]
    public static partial Regex LayerIndex();

    public static void Write(ReportDocument doc)
    {
        var generals = GeneralRuns(doc);
        if (generals.Count == 0)
            return;
        var norms = generals.Select(g => ExperimentResults.ImportanceNorms(doc.RunDir(g.Run))).OfType<JsonObject>().ToList();
        if (norms.Count == 0)
            return;
        var (rowNames, layers, values) = LogNorms(norms);
        doc.Line("## Importance");
        doc.Line();
        doc.Line(
            $"ln ‖Ω‖₂ (Frobenius norm of each adapted module's importance) after the general stage, mean over {norms.Count} seed(s); "
                + "rows are the target modules, columns the layers. Grey cells have Ω = 0."
        );
        doc.Line();
        var file = "importance-heatmap.png";
        Figures.Heatmap(
            Path.Combine(doc.FigDir, file),
            "ln ‖Ω‖ per module after the general stage",
            rowNames,
            [.. layers.Select(l => l.ToString(ReportDocument.Inv))],
            values,
            "ln ‖Ω‖",
            "layer",
            "module"
        );
        doc.Line(ReportDocument.Fig(file, "importance heat map"));
        doc.Line();
    }

    /// <summary>The general-stage runs behind Ours' main rows, found through the runs' result.json.</summary>
    static List<(long Seed, string Run)> GeneralRuns(ReportDocument doc)
    {
        var list = new List<(long, string)>();
        foreach (var r in doc.Main.Where(r => r.Method == ReportDocument.Ours).GroupBy(r => r.Seed).Select(g => g.First()))
        {
            var deps = ExperimentResults.ReadJson(Path.Combine(doc.RunDir(r.Run), "result.json"))?["depends_on"]?.AsArray();
            var g = deps?.Select(d => d!.GetValue<string>()).FirstOrDefault(d => File.Exists(Path.Combine(doc.RunDir(d), "importance.safetensors")));
            if (g is not null)
                list.Add((r.Seed, g));
        }
        return list;
    }

    /// <summary>
    /// The heat map's cells: mean over runs of ln ‖Ω‖ for each (module name, layer); NaN where no run has a
    /// positive norm or the module is not in that layer.
    /// </summary>
    static (string[] Rows, int[] Layers, double[,] Values) LogNorms(List<JsonObject> norms)
    {
        // module path -> (row = module name, column = layer index)
        var cells = norms[0]
            .Select(kv => kv.Key)
            .Select(p =>
            {
                var mm = LayerIndex().Match(p);
                return (Path: p, Row: p[(p.LastIndexOf('.') + 1)..], Layer: mm.Success ? int.Parse(mm.Groups[2].Value, ReportDocument.Inv) : 0);
            })
            .ToList();
        var rowNames = cells.Select(x => x.Row).Distinct().ToArray();
        var layers = cells.Select(x => x.Layer).Distinct().Order().ToArray();
        var values = new double[rowNames.Length, layers.Length];
        for (int i = 0; i < rowNames.Length; i++)
        for (int j = 0; j < layers.Length; j++)
            values[i, j] = double.NaN;
        foreach (var cell in cells)
        {
            var logs = norms
                .Select(n => n[cell.Path]?.GetValue<double>() ?? double.NaN)
                .Select(v => v > 0 ? Math.Log(v) : double.NaN)
                .Where(double.IsFinite)
                .ToList();
            values[Array.IndexOf(rowNames, cell.Row), Array.IndexOf(layers, cell.Layer)] = logs.Count > 0 ? logs.Average() : double.NaN;
        }
        return (rowNames, layers, values);
    }
}
