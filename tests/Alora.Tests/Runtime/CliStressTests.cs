using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Alora.Tests.Runtime;

/// <summary>
/// The real CLI, <c>alora train</c> with its progress display on a terminal (util-linux's <c>script</c> gives it a
/// pseudo-terminal, so Spectre's renderer thread draws and allocates beside the torch thread), with a
/// <see cref="GcStorm"/> started inside that process by <see cref="StartupHook"/>: it must finish and write the same
/// losses and the same adapter, bit for bit, as a quiet run of the same command in a pipe.
/// ALORA_STRESS_CLI_STEPS sets the steps of both runs (default 200; the closing notes used longer runs).
/// </summary>
public class CliStressTests(ITestOutputHelper output)
{
    [Fact]
    public void Stress_CliTrainingWithItsProgressDisplayUnderForcedCollectionsMatchesAQuietRun()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("data.jsonl"), 48, 32);
        var steps = Environment.GetEnvironmentVariable("ALORA_STRESS_CLI_STEPS") ?? "200";
        string[] Args(string run) =>
            [
                "train",
                "--model",
                model,
                "--data",
                data,
                "--out",
                run,
                "--max-steps",
                steps,
                "--batch-size",
                "4",
                "--micro-batch-size",
                "2",
                "--max-length",
                "32",
                "--lr",
                "0.01",
                "--dropout",
                "0.1",
                "--target-modules",
                "q_proj,v_proj,down_proj",
                "--seed",
                "5",
            ];
        var quiet = RunCli(Args(tmp.File("quiet")), onTerminal: false, storm: false);
        Assert.True(quiet.Code == 0, quiet.Output);
        var stormy = RunCli(Args(tmp.File("stormy")), onTerminal: true, storm: true);
        output.WriteLine($"quiet run {quiet.Seconds:F1} s, stormy run on a terminal {stormy.Seconds:F1} s");
        Assert.True(stormy.Code == 0, stormy.Output);
        Assert.Contains("\u001b[", stormy.Output, StringComparison.Ordinal); // the progress display drew on the terminal
        Assert.Contains("train lora/domain", stormy.Output, StringComparison.Ordinal);

        string[] Numbers(string run) =>
            File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
                .Select(l => JsonNode.Parse(l)!.AsObject())
                .Select(o => string.Join(" ", new[] { "step", "loss", "grad_norm", "lr" }.Select(k => o[k]!.ToJsonString())))
                .ToArray();
        var expected = Numbers(tmp.File("quiet"));
        Assert.Equal(int.Parse(steps, System.Globalization.CultureInfo.InvariantCulture), expected.Length);
        Assert.Equal(expected, Numbers(tmp.File("stormy")));
        Assert.Equal(File.ReadAllBytes(tmp.File("quiet/adapter_model.safetensors")), File.ReadAllBytes(tmp.File("stormy/adapter_model.safetensors")));
    }

    sealed record CliRun(int Code, string Output, double Seconds);

    static CliRun RunCli(string[] args, bool onTerminal, bool storm)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var cli = typeof(Alora.Cli.AloraCli).Assembly.Location;
        var info = onTerminal ? new ProcessStartInfo("script") : new ProcessStartInfo(dotnet);
        if (onTerminal)
        {
            // script -q -e -c CMD /dev/null: CMD on a new pseudo-terminal, its exit code returned, no typescript file
            var command = string.Join(
                " ",
                new[] { dotnet, cli }.Concat(args).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'")
            );
            foreach (var a in new[] { "-q", "-e", "-c", command, "/dev/null" })
                info.ArgumentList.Add(a);
            info.Environment["TERM"] = "xterm-256color";
        }
        else
        {
            info.ArgumentList.Add(cli);
            foreach (var a in args)
                info.ArgumentList.Add(a);
        }
        info.Environment.Remove("CI"); // the CLI draws no progress under CI
        info.Environment["OMP_NUM_THREADS"] = "1"; // one torch thread: the storm and a busy core do not stall a second one
        info.Environment["MKL_NUM_THREADS"] = "1";
        if (storm)
        {
            info.Environment["DOTNET_STARTUP_HOOKS"] = typeof(GcStorm).Assembly.Location;
            info.Environment["ALORA_TEST_GC_STORM"] = "1";
        }
        info.RedirectStandardOutput = info.RedirectStandardError = info.RedirectStandardInput = true;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            return new CliRun(-1, "timed out\n" + stdout.Result + stderr.Result, clock.Elapsed.TotalSeconds);
        }
        return new CliRun(process.ExitCode, stdout.Result + stderr.Result, clock.Elapsed.TotalSeconds);
    }
}
