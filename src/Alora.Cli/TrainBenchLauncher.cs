using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Alora.Bench;

namespace Alora.Cli;

/// <summary>
/// The processes of <c>alora bench train</c>: for each shape this CLI again (<c>bench train --shape NAME --child-json FILE</c>),
/// so that the peak RSS it reports is that shape's alone, and with --pytorch the PyTorch script on the same shape right
/// after it. Both get the shape's thread count in OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS: OpenBLAS's
/// own thread pool ignores torch.set_num_threads, and two pools on two cores would oversubscribe them.
/// </summary>
public sealed class TrainBenchLauncher(TextWriter err)
{
    /// <summary>Lines of a failed process's output quoted in the error.</summary>
    const int TailLines = 15;

    /// <summary>The PyTorch script, copied beside the CLI's assembly at build time from tools/bench/.</summary>
    public static string ScriptPath => Path.Combine(AppContext.BaseDirectory, "tools", "bench", "pytorch_lora_step.py");

    /// <summary>The shape measured in a child process of this CLI; its JSON goes through a file in <paramref name="tmpDir"/>.</summary>
    static readonly string[] Bf16Args = ["--base-weights-dtype", "bfloat16"];

    public TrainBenchShapeResult RunAlora(TrainBenchShape shape, int steps, int warmup, string tmpDir, bool baseWeightsBf16 = false)
    {
        var json = Path.Combine(tmpDir, shape.Name + ".json");
        var (file, prefix) = ChildJobLauncher.SelfCommand();
        var info = StartInfo(
            file,
            shape.Threads,
            [
                .. prefix,
                "bench",
                "train",
                "--shape",
                shape.Name,
                "--child-json",
                json,
                .. StepArgs(steps, warmup),
                .. (baseWeightsBf16 ? Bf16Args : []),
            ]
        );
        var (exit, _, tail) = Run(info, "  ");
        if (exit != 0)
            throw new AloraException($"the Alora process of shape {shape.Name} exited with code {exit}:\n{tail}");
        return TrainBenchShapeResult.FromJson(JsonNode.Parse(File.ReadAllText(json))!.AsObject());
    }

    /// <summary>The same shape's step in PyTorch; the script prints its result as one JSON line, its last.</summary>
    public PyTorchStepResult RunPyTorch(string python, TrainBenchShape shape, int steps, int warmup)
    {
        string[] args =
        [
            ScriptPath,
            .. Arg("--vocab", shape.Vocab),
            .. Arg("--hidden", shape.Hidden),
            .. Arg("--layers", shape.Layers),
            .. Arg("--heads", shape.Heads),
            .. Arg("--kv-heads", shape.KvHeads),
            .. Arg("--intermediate", shape.Intermediate),
            .. Arg("--seq", shape.Seq),
            .. Arg("--batch", shape.Batch),
            .. Arg("--threads", shape.Threads),
            .. Arg("--rank", TrainBench.Rank),
            .. Arg("--alpha", TrainBench.Alpha),
            .. Arg("--lr", TrainBench.Lr),
            .. Arg("--seed", TrainBench.Seed),
            .. StepArgs(steps, warmup),
        ];
        var (exit, stdout, tail) = Run(StartInfo(python, shape.Threads, args), "  [pytorch] ");
        if (exit != 0)
            throw new AloraException($"the PyTorch script on shape {shape.Name} exited with code {exit}:\n{tail}");
        var line = stdout.LastOrDefault(l => l.TrimStart().StartsWith('{'))
            ?? throw new AloraException($"the PyTorch script on shape {shape.Name} printed no JSON:\n{tail}");
        return PyTorchStepResult.Parse(line);
    }

    /// <summary>torch's version under <paramref name="python"/>; an error naming what is missing: the interpreter, torch or the script.</summary>
    public static string CheckPyTorch(string python)
    {
        if (!File.Exists(ScriptPath))
            throw new AloraException($"--pytorch: the PyTorch script is not at {ScriptPath} (the build copies it from tools/bench/)");
        var info = StartInfo(python, 1, ["-c", "import torch; print(torch.__version__)"]);
        int exit;
        List<string> stdout;
        string tail;
        try
        {
            (exit, stdout, tail) = new TrainBenchLauncher(TextWriter.Null).Run(info, null);
        }
        catch (AloraException e)
        {
            throw new AloraException($"--pytorch needs a Python interpreter with torch: {e.Message} (name another with --python)");
        }
        if (exit != 0)
            throw new AloraException(
                $"--pytorch needs PyTorch, and {python} cannot import torch (install it, e.g. apt-get install python3-torch or "
                    + $"pip install torch, or name an interpreter that has it with --python):\n{tail}"
            );
        return stdout.LastOrDefault()?.Trim() ?? "";
    }

    static string[] Arg<T>(string name, T value)
        where T : IFormattable => [name, value.ToString(null, System.Globalization.CultureInfo.InvariantCulture)];

    static string[] StepArgs(int steps, int warmup) => [.. Arg("--steps", steps), .. Arg("--warmup", warmup)];

    static ProcessStartInfo StartInfo(string file, int threads, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        var t = threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["OMP_NUM_THREADS"] = t;
        info.Environment["MKL_NUM_THREADS"] = t;
        info.Environment["OPENBLAS_NUM_THREADS"] = t;
        return info;
    }

    /// <summary>Runs to the end, its stderr lines passed on to ours after <paramref name="indent"/> (when not null); returns the exit code, stdout's lines and the last lines of both.</summary>
    (int Exit, List<string> Stdout, string Tail) Run(ProcessStartInfo info, string? indent)
    {
        using var process = new Process { StartInfo = info };
        var stdout = new List<string>();
        var tail = new Queue<string>();
        var gate = new object();
        void Keep(string line)
        {
            tail.Enqueue(line);
            if (tail.Count > TailLines)
                tail.Dequeue();
        }
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (gate)
            {
                stdout.Add(e.Data);
                Keep(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (gate)
            {
                Keep(e.Data);
                if (indent is not null)
                    err.WriteLine(indent + e.Data);
            }
        };
        // a parent that exits (SIGTERM, an unhandled error) takes the child with it rather than leave it running
        EventHandler onExit = (_, _) => Kill(process);
        AppDomain.CurrentDomain.ProcessExit += onExit;
        try
        {
            try
            {
                process.Start();
            }
            catch (Win32Exception e)
            {
                throw new AloraException($"cannot start {info.FileName}: {e.Message}");
            }
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.WaitForExit(); // returns once the output events are all handled
            lock (gate)
                return (process.ExitCode, stdout, string.Join('\n', tail));
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= onExit;
        }
    }

    static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // not started, or exited already
        }
    }
}
