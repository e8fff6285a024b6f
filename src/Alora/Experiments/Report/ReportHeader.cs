namespace Alora.Experiments;

/// <summary>The report's opening: the model, methods, seeds and tasks, and how to read the tables.</summary>
internal static class ReportHeader
{
    public static void Write(ReportDocument doc)
    {
        var c = doc.Config;
        doc.Line("# Experiment report");
        doc.Line();
        doc.Line(
            $"Model: `{c.Model}`. Methods: {string.Join(", ", doc.Methods.Select(ExperimentMethods.Display))}. "
                + $"Seeds: {string.Join(", ", c.Seeds)}. Domain tasks: {string.Join(", ", doc.Tasks)}"
                + (doc.Probes.Count > 0 ? $". Probes: {string.Join(", ", doc.Probes)}" : "")
                + "."
        );
        doc.Line();
        doc.Line(
            "General ability is the perplexity on the held-out general text (lower is better); domain ability is the "
                + "multiple-choice accuracy on the task's test file (acc: argmax of the summed log-likelihood; acc_norm: divided by the choice's length in characters). "
                + "Cells are mean ± sample sd over seeds; the best mean of each column, as printed, is in **bold**. Every number comes from `results.csv`."
        );
        if (doc.Methods.Contains("base"))
        {
            doc.Line();
            doc.Line("Base is the untrained model: it is evaluated once, so its numbers are the same for every seed (sd 0).");
        }
        doc.Line();
    }
}
