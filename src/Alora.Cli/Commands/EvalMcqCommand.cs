using System.CommandLine;
using System.Diagnostics;
using Alora.Data;
using Alora.Eval;
using Alora.IO;
using Alora.Tokenization;

namespace Alora.Cli.Commands;

/// <summary>alora eval mcq: multiple-choice accuracy by log-likelihood (lm-evaluation-harness's acc and acc_norm).</summary>
public static class EvalMcqCommand
{
    public static Command Create(CliIo io)
    {
        var model = new ModelOptions(io);
        var task = new Option<string>("--task")
        {
            Description = "sciq, piqa, medmcqa, or mcq (generic JSONL: question, choices, answer, optional context)",
            Required = true,
        };
        var data = new Option<string>("--data")
        {
            Description = "the task's file: JSON Lines, JSON or Parquet, official field names or the generic layout",
            Required = true,
        };
        var labels = new Option<string?>("--labels")
        {
            Description = "PIQA labels file (default: the rows' label, else X-labels.lst beside X.jsonl)",
        };
        var limit = new Option<int?>("--limit") { Description = "score only the first N items" }.AtLeast(1);
        var batch = new Option<int>("--batch-size")
        {
            Description = "sequences (one per choice) per forward pass",
            DefaultValueFactory = _ => 16,
        }.AtLeast(1);
        var output = new Option<string?>("--out")
        {
            Description =
                "also write the JSON result, with every item's log-likelihoods, to this file, and lm-evaluation-harness's results file beside it (eval.json -> eval.lm_eval.json)",
        };
        var cmd = new Command("mcq", "Multiple-choice accuracy: acc and acc_norm by log-likelihood of \" \" + choice after the prompt.");
        model.AddTo(cmd);
        cmd.Add(task);
        cmd.Add(data);
        cmd.Add(labels);
        cmd.Add(limit);
        cmd.Add(batch);
        cmd.Add(output);
        cmd.SetAction(p =>
        {
            var started = DateTimeOffset.UtcNow;
            var total = Stopwatch.StartNew();
            var modelDir = model.Folder(p);
            var taskName = p.GetValue(task)!.Trim().ToLowerInvariant();
            string dataPath = HubCli.Data(io, p.GetValue(data)!),
                labelsPath = p.GetValue(labels) is { } l ? HubCli.Data(io, l) : "";
            if (p.GetValue(output) is { } outFile)
                ResultJson.CheckOut(outFile);
            IReadOnlyList<McqItem> items = McqDatasets.Read(taskName, dataPath, labelsPath.Length > 0 ? labelsPath : null);
            int available = items.Count;
            if (p.GetValue(limit) is { } n)
                items = items.Take(n).ToList();
            using var lm = model.Load(p);
            using var tok = TextTokenizer.Load(modelDir);
            var scorer = new CausalLMScorer(lm, p.GetValue(batch));
            var clock = Stopwatch.StartNew();
            var result = ProgressView.Run(io, taskName, progress => MultipleChoice.Evaluate(taskName, items, tok, scorer, progress));
            double seconds = clock.Elapsed.TotalSeconds;
            var full = EvalJson.Mcq(result, modelDir, dataPath, labelsPath.Length > 0 ? labelsPath : null, perItem: true);
            model.Describe(p, full);
            full["seconds"] = seconds;
            // every item's log-likelihoods go to the --out file; on the terminal only for small runs
            var shown = result.N <= 20 ? full : EvalJson.Mcq(result, modelDir, dataPath, labelsPath.Length > 0 ? labelsPath : null, perItem: false);
            if (!ReferenceEquals(shown, full))
                model.Describe(p, shown);
            shown["seconds"] = seconds;
            io.Out.WriteLine(EvalJson.Write(shown));
            if (p.GetValue(output) is { } outPath)
            {
                AtomicFile.WriteAllText(outPath, EvalJson.Write(full) + "\n");
                var run = model.LmEvalRun(p, p.GetValue(batch), p.GetValue(limit), started, total.Elapsed.TotalSeconds);
                var lmTask = new LmEvalTask(taskName, dataPath, result, available, labelsPath.Length > 0 ? labelsPath : null);
                ResultJson.WriteLmEval(io, outPath, LmEvalResults.Build(run, [], [lmTask]));
            }
            return 0;
        });
        return cmd;
    }
}
