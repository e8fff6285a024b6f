using System.CommandLine;
using Alora.Bench;
using Alora.Eval;
using Alora.IO;

namespace Alora.Cli.Commands;

/// <summary>alora bench decode: shared-context multiple-choice scoring and cached generation against the algorithms they replaced.</summary>
public static class BenchDecodeCommand
{
    public static Command Create(CliIo io)
    {
        var d = new DecodeBenchOptions();
        var shape = new BenchCommand.ShapeOptions(d.Model);
        var items = BenchCommand.Int("--items", d.Items, "multiple-choice items of each layout (SciQ, MedMCQA)");
        var batch = BenchCommand.Int("--batch", d.Batch, "items per forward pass (the scorer's --batch-size)");
        var newTokens = BenchCommand.Int("--new-tokens", d.NewTokens, "tokens to generate");
        var promptTokens = BenchCommand.Int("--prompt-tokens", d.PromptTokens, "prompt length of the generation");
        var rounds = BenchCommand.Int("--rounds", d.Rounds, "timed repetitions (times are medians)");
        var threads = BenchCommand.Int("--threads", d.Threads, "torch intra-op threads");
        var seed = new Option<long>("--seed") { Description = "seed of the random weights and tokens", DefaultValueFactory = _ => d.Seed };
        var output = new Option<string?>("--out") { Description = "write the results as JSON to this file" };
        var cmd = new Command(
            "decode",
            "Multiple-choice scoring with each context read once (key/value cache) against a row per choice, and cached greedy "
                + "generation against re-reading the prefix per token, on one model with random weights; both sides must agree."
        );
        foreach (var o in shape.All.Concat(new Option[] { items, batch, newTokens, promptTokens, rounds, threads, seed, output }))
            cmd.Add(o);
        cmd.SetAction(p =>
        {
            var options = new DecodeBenchOptions
            {
                Model = shape.Read(p, d.Model),
                Items = p.GetValue(items),
                Batch = p.GetValue(batch),
                NewTokens = p.GetValue(newTokens),
                PromptTokens = p.GetValue(promptTokens),
                Rounds = p.GetValue(rounds),
                Threads = p.GetValue(threads),
                Seed = p.GetValue(seed),
            };
            options.Validate();
            if (p.GetValue(output) is { } outFile)
                OutputCheck.File(outFile, "--out");
            var result = DecodeBench.Run(options, new BenchCommand.LineLog(io.Err));
            var json = EvalJson.Write(result) + "\n";
            io.Out.Write(json);
            if (p.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, json);
                io.Out.WriteLine($"wrote {Path.GetFullPath(path)}");
            }
            return 0;
        });
        return cmd;
    }
}
