using System.CommandLine;
using Alora.Data;
using Alora.Eval;
using Alora.IO;
using Alora.Tokenization;

namespace Alora.Cli.Commands;

/// <summary>alora eval perplexity: corpus perplexity, word perplexity and bits per byte (lm-evaluation-harness definitions).</summary>
public static class EvalPerplexityCommand
{
    public static Command Create(CliIo io)
    {
        var model = new ModelOptions(io);
        var data = new Option<string>("--data")
        {
            Description = "text (one document per line, or blank-line separated), JSONL with text or input_ids, or Parquet with a text column",
            Required = true,
        };
        var maxLength = new Option<int?>("--max-length") { Description = "window length in tokens (default: the model's context length)" }.AtLeast(1);
        var stride = new Option<int?>("--stride")
        {
            Description = "tokens newly predicted per window after the first (default: --max-length, disjoint windows)",
        }.AtLeast(1);
        var batch = new Option<int>("--batch-size") { Description = "windows per forward pass", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var limit = new Option<int?>("--limit") { Description = "score only the first N documents" }.AtLeast(1);
        var output = new Option<string?>("--out")
        {
            Description =
                "also write the JSON result to this file, and lm-evaluation-harness's results file beside it (eval.json -> eval.lm_eval.json)",
        };
        var cmd = new Command("perplexity", "Perplexity of a model on a general corpus.");
        model.AddTo(cmd);
        cmd.Add(data);
        cmd.Add(maxLength);
        cmd.Add(stride);
        cmd.Add(batch);
        cmd.Add(limit);
        cmd.Add(output);
        cmd.SetAction(p =>
        {
            var started = DateTimeOffset.UtcNow;
            var total = System.Diagnostics.Stopwatch.StartNew();
            var modelDir = model.Folder(p);
            var dataPath = HubCli.Data(io, p.GetValue(data)!);
            if (p.GetValue(output) is { } outFile)
                ResultJson.CheckOut(outFile);
            var docs = TextCorpus.Read(dataPath);
            int available = docs.Count;
            if (p.GetValue(limit) is { } n)
                docs = docs.Take(n).ToList();
            using var lm = model.Load(p);
            var sequences = Prepare(docs, modelDir, lm.VocabSize, dataPath);
            var options = new PerplexityOptions
            {
                MaxLength = p.GetValue(maxLength),
                Stride = p.GetValue(stride),
                BatchSize = p.GetValue(batch),
            };
            var result = ProgressView.Run(io, "perplexity", progress => Perplexity.Evaluate(lm, sequences, options, progress));
            var json = ResultJson.Perplexity(result, modelDir, dataPath, more: o => model.Describe(p, o));
            // per-document NLLs go to the --out file; on the terminal only for small corpora
            io.Out.WriteLine(
                result.Documents <= 50 ? json : ResultJson.Perplexity(result, modelDir, dataPath, perDocument: false, more: o => model.Describe(p, o))
            );
            if (p.GetValue(output) is { } outPath)
            {
                AtomicFile.WriteAllText(outPath, json + "\n");
                var run = model.LmEvalRun(p, options.BatchSize, p.GetValue(limit), started, total.Elapsed.TotalSeconds);
                // named as `eval suite` names a corpus given without a name: the file name without its extension
                var corpus = new LmEvalCorpus(Path.GetFileNameWithoutExtension(dataPath), dataPath, result, available);
                ResultJson.WriteLmEval(
                    io,
                    outPath,
                    LmEvalResults.HasTextMetrics(result) ? LmEvalResults.Build(run, [corpus], []) : null,
                    $"{dataPath} holds pre-tokenized input_ids, and lm-eval's word and byte metrics count the words and bytes of text"
                );
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>Text documents are tokenized whole with the model's tokenizer; input_ids are scored as given (<see cref="EvalSuite.Sequences"/>).</summary>
    internal static List<ScoredSequence> Prepare(IReadOnlyList<CorpusDocument> docs, string modelDir, int vocab, string dataPath)
    {
        using var tok = docs.All(d => d.InputIds is not null) ? null : TextTokenizer.Load(modelDir);
        return EvalSuite.Sequences(docs, tok, vocab, dataPath);
    }
}
