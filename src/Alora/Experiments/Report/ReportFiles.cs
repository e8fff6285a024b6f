namespace Alora.Experiments;

/// <summary>The report's last section: what the experiment folder holds.</summary>
internal static class ReportFiles
{
    public static void Write(ReportDocument doc)
    {
        doc.Line("## Files");
        doc.Line();
        doc.Line("- `results.csv`: one row per method × seed × task (sweep rows name the swept key); the tables above are computed from it.");
        doc.Line(
            "- `runs/NAME/`: one folder per run: `job.json` (what it computes), `config.json`, `metrics.jsonl`, the PEFT adapter, "
                + "`importance.safetensors` (general stage), `layer_weights.json`, `eval.json`, `summary.json` and `result.json` (configuration, metrics, evaluation and costs)."
        );
        doc.Line("- `plan.json`: the jobs, what each depends on, and which run serves each row; `experiment.json`: the configuration as resolved.");
    }
}
