using System.Diagnostics;
using System.Text.Json.Nodes;
using Alora.Cli;

namespace Alora.Tests.Cli;

/// <summary>
/// The real CLI in a process of its own, sent SIGTERM (what Slurm sends at a job's time limit and on scancel, before
/// SIGKILL) by the kill command: it stops between steps with a checkpoint where it stopped, and --resume repeats no step.
/// </summary>
public class SignalCliTests
{
    [Fact]
    public async Task Sigterm_stops_training_between_steps_with_a_checkpoint_where_it_stopped()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("data.jsonl"), 48, 32);
        var run = tmp.File("run");
        string[] args =
        [
            "train",
            "--model",
            model,
            "--data",
            data,
            "--out",
            run,
            "--max-steps",
            "400",
            "--batch-size",
            "4",
            "--max-length",
            "32",
            "--checkpoint-every",
            "1000",
        ];
        var (file, prefix) = ChildJobLauncher.SelfCommand();
        var info = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in prefix.Concat(args))
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var metrics = Path.Combine(run, "metrics.jsonl");
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 3))
        {
            Assert.False(p.HasExited, "training ended before it was signalled");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "no third step within 3 minutes");
            await Task.Delay(20);
        }
        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), "the process did not stop after SIGTERM");
        var err0 = await stderr;
        await stdout;
        Assert.True(p.ExitCode == 130, $"exit {p.ExitCode}: {err0}");
        Assert.Contains("interrupted: a checkpoint was written where it stopped", err0, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(run, "summary.json")));

        // the checkpoint is at the last logged step (no multiple of checkpoint-every was reached)
        var logged = File.ReadAllLines(metrics).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>()).ToList();
        Assert.InRange(logged[^1], 3, 399);
        var checkpoint = Assert.Single(Directory.GetDirectories(Path.Combine(run, "checkpoints")));
        Assert.Equal($"step-{logged[^1]:D7}", Path.GetFileName(checkpoint));

        var (code, _, err) = CliRunner.Run([.. args, "--resume"]);
        Assert.True(code == 0, err);
        var all = File.ReadAllLines(metrics).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>());
        Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), all);
    }
}
