using System.CommandLine;
using System.Diagnostics;
using Alora.Bench;
using Alora.Eval;
using Alora.IO;

namespace Alora.Cli.Commands;

/// <summary>
/// alora bench train: LoRA training throughput, MFU and peak RSS at the named shapes, each in a child process of its
/// own, with --pytorch the same step in PyTorch right after each. The child is this command with the hidden
/// --shape and --child-json options.
/// </summary>
public static class BenchTrainCommand
{
    public static Command Create(CliIo io)
    {
        var shapes = new Option<string>("--shapes")
        {
            Description = $"comma-separated shapes to run, in order: {TrainBenchShape.Names}",
            DefaultValueFactory = _ => string.Join(',', TrainBenchShape.All.Select(s => s.Name)),
        };
        var steps = new Option<int?>("--steps")
        {
            Description = "timed steps per shape (default 5; 2 for tinyllama-1.1b, whose step takes seconds)",
        }.AtLeast(1);
        var warmup = new Option<int>("--warmup") { Description = "untimed steps per shape first", DefaultValueFactory = _ => 1 }.AtLeast(0);
        var output = new Option<string?>("--out") { Description = "write the results as JSON to this file" };
        var pytorch = new Option<bool>("--pytorch")
        {
            Description = "also run tools/bench/pytorch_lora_step.py on each shape, right after Alora's, and report the tokens/s ratio",
        };
        var python = new Option<string>("--python")
        {
            Description = "the Python interpreter for --pytorch (one that can import torch)",
            DefaultValueFactory = _ => "python3",
        };
        var baseWeights = new Option<string>("--base-weights-dtype")
        {
            Description =
                "float32, or bfloat16: the frozen base weights kept in bfloat16, widened to float32 per product (as alora train --base-weights-dtype)",
            DefaultValueFactory = _ => "float32",
        }.AcceptOnlyFromAmong("float32", "bfloat16");
        var shape = new Option<string?>("--shape") { Description = "(internal) measure this one shape in this process", Hidden = true };
        var childJson = new Option<string?>("--child-json") { Description = "(internal) where the --shape process writes its JSON", Hidden = true };

        var cmd = new Command(
            "train",
            "LoRA training throughput (r 8, alpha 16, q_proj+v_proj, AdamW, random weights and tokens) at named Llama shapes: tokens/s, "
                + "ms/step, peak RSS, model FLOPs and MFU against the measured sgemm peak; with --pytorch against the same step in PyTorch."
        );
        foreach (var o in new Option[] { shapes, steps, warmup, output, pytorch, python, baseWeights, shape, childJson })
            cmd.Add(o);
        cmd.SetAction(p =>
        {
            bool bf16 = p.GetValue(baseWeights) == "bfloat16";
            if (p.GetValue(shape) is { } name)
                return Child(io, TrainBenchShape.Named(name), p.GetValue(steps), p.GetValue(warmup), p.GetValue(childJson), bf16);
            var list = TrainBenchShape.Parse(p.GetValue(shapes)!);
            if (p.GetValue(output) is { } outFile)
                OutputCheck.File(outFile, "--out");
            string? interpreter = p.GetValue(pytorch) ? p.GetValue(python)! : null;
            if (interpreter is not null)
                io.Err.WriteLine($"PyTorch {TrainBenchLauncher.CheckPyTorch(interpreter)} under {interpreter}");
            var report = Run(io, list, p.GetValue(steps), p.GetValue(warmup), interpreter, bf16);
            io.Out.Write(report.ToTable());
            if (p.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, EvalJson.Write(report.ToJson()) + "\n");
                io.Out.WriteLine($"wrote {Path.GetFullPath(path)}");
            }
            return 0;
        });
        return cmd;
    }

    static TrainBenchReport Run(CliIo io, IReadOnlyList<TrainBenchShape> shapes, int? steps, int warmup, string? python, bool bf16)
    {
        var launcher = new TrainBenchLauncher(io.Err);
        var wall = Stopwatch.StartNew();
        var load = ImportanceBench.LoadAverage();
        var entries = new List<TrainBenchEntry>();
        var tmp = Directory.CreateTempSubdirectory("alora-bench-train-");
        try
        {
            foreach (var s in shapes)
            {
                int n = steps ?? s.DefaultSteps;
                io.Err.WriteLine($"{s.Name}: Alora, {warmup} warm-up + {n} timed steps, {s.Threads} thread(s)");
                var alora = launcher.RunAlora(s, n, warmup, tmp.FullName, bf16);
                io.Err.WriteLine($"{s.Name}: Alora {alora.TokensPerSecond:F0} tokens/s, {alora.MedianMs:F0} ms/step, MFU {alora.Mfu:P1}");
                PyTorchStepResult? torch = null;
                if (python is not null)
                {
                    torch = launcher.RunPyTorch(python, s, n, warmup);
                    io.Err.WriteLine($"{s.Name}: PyTorch {torch.TokensPerSecond:F0} tokens/s, {torch.MedianMs:F0} ms/step");
                }
                entries.Add(new TrainBenchEntry(alora, torch));
            }
        }
        finally
        {
            tmp.Delete(recursive: true);
        }
        return new TrainBenchReport(entries, DateTimeOffset.UtcNow, wall.Elapsed.TotalSeconds, load, ImportanceBench.LoadAverage());
    }

    /// <summary>The child: one shape measured in this process (so its peak RSS is the shape's), its JSON written for the parent.</summary>
    static int Child(CliIo io, TrainBenchShape shape, int? steps, int warmup, string? childJson, bool bf16)
    {
        if (childJson is null)
            throw new AloraException("--shape needs --child-json (both are set by alora bench train for its child processes)");
        var result = TrainBench.RunShape(shape, steps ?? shape.DefaultSteps, warmup, new BenchCommand.LineLog(io.Err), bf16);
        AtomicFile.WriteAllText(childJson, EvalJson.Write(result.ToJson()) + "\n");
        io.Out.WriteLine($"wrote {Path.GetFullPath(childJson)}");
        return 0;
    }
}
