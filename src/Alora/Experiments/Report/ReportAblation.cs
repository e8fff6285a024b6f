using Alora.Reporting;

namespace Alora.Experiments;

/// <summary>Ours against itself without the layer weights and without both weightings, in the results table's columns.</summary>
internal static class ReportAblation
{
    public static void Write(ReportDocument doc)
    {
        const string Ours = ReportDocument.Ours;
        var rows = new List<(string, string)> { (Ours, "Ours"), ("alora-no-layer", "− layer"), ("lora-nu-mu", "− layer, element (= LoRA(ν+μ))") }
            .Where(x => doc.Methods.Contains(x.Item1))
            .ToList();
        if (!doc.Methods.Contains(Ours) || rows.Count < 2)
            return;
        doc.Line("## Ablation");
        doc.Line();
        doc.Line(
            "Ours without the layer-wise weights (uniform w = 1/M) and without both (the same adapter continued on the domain with no penalty)."
        );
        doc.Line();
        var (cols, best, cells) = ReportResults.Columns(doc);
        doc.Line(MarkdownTable.MeanSdTable("Variant", cols, best, rows.Select(x => (x.Item2, cells(x.Item1))).ToList()));
    }
}
