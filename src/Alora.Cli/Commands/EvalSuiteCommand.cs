using System.CommandLine;
using Alora.Data;
using Alora.Eval;
using Alora.IO;
using Alora.Tokenization;

namespace Alora.Cli.Commands;

/// <summary>alora eval suite: general perplexity on corpora plus multiple-choice tasks, one JSON (the library's <see cref="EvalSuite"/>).</summary>
public static class EvalSuiteCommand
{
    public static Command Create(CliIo io)
    {
        var model = new ModelOptions(io);
        var ppl = new Option<string[]>("--ppl")
        {
            Description = "[NAME=]FILE: a general corpus for perplexity (repeatable; NAME defaults to the file name without extension)",
            DefaultValueFactory = _ => [],
        };
        var tasks = new Option<string[]>("--task")
        {
            Description =
                "TASK[/NAME]=FILE: a multiple-choice file, TASK one of sciq, piqa, medmcqa, mcq (repeatable; NAME defaults to TASK; PIQA labels come from the rows or X-labels.lst beside X.jsonl)",
            DefaultValueFactory = _ => [],
        };
        var limit = new Option<int?>("--limit") { Description = "score only the first N documents of each corpus and items of each task" }.AtLeast(1);
        var maxLength = new Option<int?>("--max-length")
        {
            Description = "perplexity window in tokens (default: the model's context length)",
        }.AtLeast(1);
        var stride = new Option<int?>("--stride")
        {
            Description = "perplexity tokens newly predicted per window after the first (default: --max-length)",
        }.AtLeast(1);
        var batch = new Option<int>("--batch-size")
        {
            Description = "perplexity windows, or choice sequences, per forward pass",
            DefaultValueFactory = _ => 8,
        }.AtLeast(1);
        var details = new Option<bool>("--details") { Description = "also write per-document NLLs and per-item log-likelihoods" };
        var output = new Option<string?>("--out")
        {
            Description =
                "also write the JSON result to this file, and lm-evaluation-harness's results file beside it (eval.json -> eval.lm_eval.json)",
        };
        var cmd = new Command("suite", "Perplexity on general corpora and accuracy on multiple-choice tasks in one call, one JSON.");
        model.AddTo(cmd);
        cmd.Add(ppl);
        cmd.Add(tasks);
        cmd.Add(limit);
        cmd.Add(maxLength);
        cmd.Add(stride);
        cmd.Add(batch);
        cmd.Add(details);
        cmd.Add(output);
        cmd.SetAction(p =>
        {
            var started = DateTimeOffset.UtcNow;
            var total = System.Diagnostics.Stopwatch.StartNew();
            var modelDir = model.Folder(p);
            if (p.GetValue(output) is { } outFile)
                ResultJson.CheckOut(outFile);
            var spec = new EvalSuiteSpec
            {
                Corpora = p.GetValue(ppl)!.Select(ParseCorpus).Select(c => c with { Path = HubCli.Data(io, c.Path) }).ToList(),
                Tasks = p.GetValue(tasks)!.Select(ParseTask).Select(t => t with { Path = HubCli.Data(io, t.Path) }).ToList(),
                Limit = p.GetValue(limit),
                Perplexity = new PerplexityOptions
                {
                    MaxLength = p.GetValue(maxLength),
                    Stride = p.GetValue(stride),
                    BatchSize = p.GetValue(batch),
                },
                McqBatchSize = p.GetValue(batch),
            };
            if (p.GetValue(output) is not null)
                LmEvalResults.CheckNames(spec.Corpora.Select(c => c.Name), spec.Tasks.Select(t => t.Name));
            using var lm = model.Load(p);
            using var tok = HasTokenizer(modelDir) ? TextTokenizer.Load(modelDir) : null;
            var result = ProgressView.RunParts(io, progress => EvalSuite.Run(lm, tok, spec, progress));
            // the terminal gets the summary; per-document and per-item scores (--details) only the file
            var summary = EvalJson.Suite(result, modelDir);
            model.Describe(p, summary);
            io.Out.WriteLine(EvalJson.Write(summary));
            if (p.GetValue(output) is { } outPath)
            {
                var json = EvalJson.Suite(result, modelDir, p.GetValue(details));
                model.Describe(p, json);
                AtomicFile.WriteAllText(outPath, EvalJson.Write(json) + "\n");
                var tokenized = result.Perplexity.Where(c => !LmEvalResults.HasTextMetrics(c.Result)).Select(c => c.Name).ToList();
                if (tokenized.Count > 0 && tokenized.Count < result.Perplexity.Count + result.Tasks.Count)
                    io.Err.WriteLine(
                        $"left out of the lm-eval results file: {string.Join(", ", tokenized)} (pre-tokenized input_ids: lm-eval's word and byte metrics count the words and bytes of text)"
                    );
                var run = model.LmEvalRun(p, p.GetValue(batch), spec.Limit, started, total.Elapsed.TotalSeconds);
                ResultJson.WriteLmEval(
                    io,
                    outPath,
                    tokenized.Count == result.Perplexity.Count + result.Tasks.Count ? null : LmEvalResults.FromSuite(result, run),
                    "every corpus holds pre-tokenized input_ids, and lm-eval's word and byte metrics count the words and bytes of text"
                );
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>"NAME=FILE" or "FILE" (named after the file without its extension); a '=' after a path separator belongs to the path.</summary>
    internal static SuiteCorpus ParseCorpus(string arg)
    {
        int eq = arg.IndexOf('=', StringComparison.Ordinal);
        bool named = eq > 0 && arg.IndexOfAny(['/', '\\'], 0, eq) < 0;
        var path = named ? arg[(eq + 1)..] : arg;
        if (path.Length == 0)
            throw new AloraException($"--ppl '{arg}': no file");
        return new SuiteCorpus(named ? arg[..eq] : Path.GetFileNameWithoutExtension(path), path);
    }

    /// <summary>"TASK=FILE" (named TASK) or "TASK/NAME=FILE" (named TASK/NAME, for two files of one task).</summary>
    internal static SuiteTask ParseTask(string arg)
    {
        int eq = arg.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == arg.Length - 1)
            throw new AloraException($"--task '{arg}': expected TASK=FILE or TASK/NAME=FILE, TASK one of {string.Join(", ", McqDatasets.Tasks)}");
        var name = arg[..eq].Trim();
        int slash = name.IndexOf('/', StringComparison.Ordinal);
        var task = (slash < 0 ? name : name[..slash]).ToLowerInvariant();
        if (!McqDatasets.Tasks.Contains(task))
            throw new AloraException($"--task '{arg}': unknown task '{task}', expected one of {string.Join(", ", McqDatasets.Tasks)}");
        return new SuiteTask(name, task, arg[(eq + 1)..]);
    }

    static bool HasTokenizer(string dir) => File.Exists(Path.Combine(dir, "tokenizer.json")) || File.Exists(Path.Combine(dir, "tokenizer.model"));
}
