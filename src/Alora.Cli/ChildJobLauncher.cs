using System.Diagnostics;

namespace Alora.Cli;

/// <summary>
/// Runs one job of an experiment in a child process (<c>alora experiment --job NAME --threads 1</c>), for
/// <see cref="Alora.Experiments.ExperimentRunOptions.LaunchJob"/>. A process, not a thread: libtorch's random
/// generator is one per process, and each job seeds it when it starts, so a job alone in its process computes
/// exactly what it computes in the sequential run. One torch thread each: these jobs are too small to gain from
/// a second thread, and two workers on two cores would otherwise oversubscribe them.
/// </summary>
public sealed class ChildJobLauncher(string configPath, string outDir, string fileName, IReadOnlyList<string> prefix)
{
    /// <summary>Lines of the worker's log quoted in the error when it fails.</summary>
    const int TailLines = 15;

    /// <summary>A launcher that starts this program again (<see cref="SelfCommand"/>).</summary>
    public static ChildJobLauncher ForThisProgram(string configPath, string outDir)
    {
        var (file, prefix) = SelfCommand();
        return new ChildJobLauncher(configPath, outDir, file, prefix);
    }

    /// <summary>
    /// The command that starts this CLI again: its apphost (or single-file executable) as is; otherwise dotnet
    /// with Alora.Cli.dll first: the alora script and <c>dotnet Alora.Cli.dll</c>, and a test host that runs
    /// the CLI in-process (its own path is not this CLI's, and this assembly is the CLI).
    /// </summary>
    public static (string File, IReadOnlyList<string> Prefix) SelfCommand()
    {
        var process = Environment.ProcessPath ?? throw new AloraException("cannot start workers: the path of this program is unknown");
        var dll = typeof(ChildJobLauncher).Assembly.Location; // empty in a single-file build
        var name = Path.GetFileNameWithoutExtension(process);
        if (dll.Length == 0 || name == Path.GetFileNameWithoutExtension(dll))
            return (process, []);
        var dotnet = name == "dotnet" ? process : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        return (dotnet, [dll]);
    }

    /// <summary>What a worker's process is started with: the command, the arguments, one torch/OpenMP/MKL thread.</summary>
    public ProcessStartInfo StartInfo(string job)
    {
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in prefix)
            info.ArgumentList.Add(a);
        foreach (
            var a in new[]
            {
                "experiment",
                "--config",
                Path.GetFullPath(configPath),
                "--out",
                Path.GetFullPath(outDir),
                "--job",
                job,
                "--threads",
                "1",
            }
        )
            info.ArgumentList.Add(a);
        info.Environment["OMP_NUM_THREADS"] = "1";
        info.Environment["MKL_NUM_THREADS"] = "1";
        return info;
    }

    /// <summary>The worker's log: what it printed, appended run after run.</summary>
    public string LogPath(string job) => Path.Combine(Path.GetFullPath(outDir), "runs", job, Alora.Experiments.Experiment.WorkerLog);

    /// <summary>Runs the job to its end; a non-zero exit throws with the log's path and its last lines; cancelling kills the worker.</summary>
    public async Task Run(string job, CancellationToken cancel)
    {
        var log = LogPath(job);
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        var info = StartInfo(job);
        int exit;
        using (var writer = new StreamWriter(log, append: true) { AutoFlush = true })
        {
            writer.WriteLine($"== {DateTime.Now:yyyy-MM-dd HH:mm:ss} {info.FileName} {string.Join(' ', info.ArgumentList)}");
            exit = await RunProcess(info, writer, cancel).ConfigureAwait(false);
        }
        if (exit != 0)
            throw new AloraException($"its worker exited with code {exit}; log: {log}\n{string.Join('\n', File.ReadLines(log).TakeLast(TailLines))}");
    }

    static async Task<int> RunProcess(ProcessStartInfo info, StreamWriter log, CancellationToken cancel)
    {
        using var process = new Process { StartInfo = info };
        var gate = new object();
        bool closed = false;
        void Write(string? line)
        {
            lock (gate)
                if (line is not null && !closed)
                    log.WriteLine(line);
        }
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        // a parent that exits (SIGTERM, an unhandled error) takes its workers with it rather than leave them writing into the experiment
        EventHandler onExit = (_, _) => Kill(process);
        AppDomain.CurrentDomain.ProcessExit += onExit;
        try
        {
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await process.WaitForExitAsync(cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                throw;
            }
            finally
            {
                process.WaitForExit(); // returns once the output events are all written
            }
            return process.ExitCode;
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= onExit;
            lock (gate)
                closed = true; // the log is closed after this
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
            // it has exited already
        }
    }
}
