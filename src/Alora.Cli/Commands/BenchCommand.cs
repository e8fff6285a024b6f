using System.CommandLine;
using Alora.Bench;
using Alora.Eval;
using Alora.IO;

namespace Alora.Cli.Commands;

/// <summary>
/// alora bench importance: the cost of SI recording and the ALoRA penalty next to plain LoRA, against an EWC Fisher pass;
/// alora bench train (<see cref="BenchTrainCommand"/>): LoRA training throughput and MFU, against PyTorch with --pytorch.
/// </summary>
public static class BenchCommand
{
    public static Command Create(CliIo io)
    {
        var d = new ImportanceBenchOptions();
        var shape = new ShapeOptions(d);
        var seq = Int("--seq", d.Seq, "tokens per sequence");
        var batch = Int("--batch", d.Batch, "sequences per optimizer step (one micro-batch)");
        var rank = Int("--rank", d.Rank, "LoRA rank r");
        var alpha = new Option<double>("--alpha") { Description = "LoRA alpha", DefaultValueFactory = _ => d.Alpha };
        var rounds = Int("--rounds", d.Rounds, "interleaved rounds (times are medians over them)");
        var steps = Int("--steps-per-round", d.StepsPerRound, "training steps of each configuration per round");
        var warmup = Int("--warmup-steps", d.WarmupSteps, "untimed steps of each configuration first");
        var repeats = Int("--hook-repeats", d.HookRepeats, "calls of each hook per round when timed on its own");
        var fisher = Int("--fisher-samples", d.FisherSamples, "N: samples of the Fisher pass compared with recording over N samples");
        var threads = Int(
            "--threads",
            d.Threads,
            "torch intra-op threads; 0: torch's default, one per core (default 1: stable timings on a shared machine)"
        );
        var seed = new Option<long>("--seed") { Description = "seed of the random weights and tokens", DefaultValueFactory = _ => d.Seed };
        var output = new Option<string?>("--out") { Description = "write the results as JSON to this file" };

        var importance = new Command(
            "importance",
            "Step time of LoRA training with SI recording (paper, exact) and with the ALoRA penalty against plain LoRA, their own cost per step, "
                + "an EWC Fisher pass against recording over the same samples, and Omega's bytes against a full diagonal Fisher. Random weights."
        );
        foreach (var o in shape.All.Concat(new Option[] { seq, batch, rank, alpha, rounds, steps, warmup, repeats, fisher, threads, seed, output }))
            importance.Add(o);
        importance.SetAction(p =>
        {
            var options = shape.Read(p, d) with
            {
                Seq = p.GetValue(seq),
                Batch = p.GetValue(batch),
                Rank = p.GetValue(rank),
                Alpha = p.GetValue(alpha),
                Rounds = p.GetValue(rounds),
                StepsPerRound = p.GetValue(steps),
                WarmupSteps = p.GetValue(warmup),
                HookRepeats = p.GetValue(repeats),
                FisherSamples = p.GetValue(fisher),
                Threads = p.GetValue(threads),
                Seed = p.GetValue(seed),
            };
            options.Validate();
            if (p.GetValue(output) is { } outFile)
                OutputCheck.File(outFile, "--out");
            var result = ImportanceBench.Run(options, new LineLog(io.Err));
            io.Out.Write(result.ToTable());
            if (p.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, EvalJson.Write(result.ToJson()) + "\n"); // a NaN timing as null, not a crash
                io.Out.WriteLine($"wrote {Path.GetFullPath(path)}");
            }
            return 0;
        });
        var cmd = new Command("bench", "Benchmarks.");
        cmd.Add(importance);
        cmd.Add(BenchDecodeCommand.Create(io));
        cmd.Add(BenchTrainCommand.Create(io));
        return cmd;
    }

    /// <summary>The model-shape options both benches take (the fields of <see cref="ImportanceBenchOptions"/>'s shape).</summary>
    internal sealed class ShapeOptions
    {
        readonly Option<int> _vocab,
            _hidden,
            _layers,
            _heads,
            _kvHeads,
            _intermediate;

        public ShapeOptions(ImportanceBenchOptions d)
        {
            _vocab = Int("--vocab", d.Vocab, "vocabulary size");
            _hidden = Int("--hidden", d.Hidden, "hidden size");
            _layers = Int("--layers", d.Layers, "decoder layers");
            _heads = Int("--heads", d.Heads, "attention heads");
            _kvHeads = Int("--kv-heads", d.KvHeads, "key/value heads (grouped-query attention)");
            _intermediate = Int("--intermediate", d.Intermediate, "MLP intermediate size");
        }

        public IEnumerable<Option> All => [_vocab, _hidden, _layers, _heads, _kvHeads, _intermediate];

        public ImportanceBenchOptions Read(ParseResult p, ImportanceBenchOptions o) =>
            o with
            {
                Vocab = p.GetValue(_vocab),
                Hidden = p.GetValue(_hidden),
                Layers = p.GetValue(_layers),
                Heads = p.GetValue(_heads),
                KvHeads = p.GetValue(_kvHeads),
                Intermediate = p.GetValue(_intermediate),
            };
    }

    internal static Option<int> Int(string name, int def, string help) => new(name) { Description = help, DefaultValueFactory = _ => def };

    /// <summary>Progress lines on stderr as they come (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
    internal sealed class LineLog(TextWriter err) : IProgress<string>
    {
        public void Report(string value) => err.WriteLine(value);
    }
}
