using System.Globalization;
using Alora.Eval;
using Alora.Experiments;
using Spectre.Console;

namespace Alora.Cli;

/// <summary>A progress bar on stderr when it is a terminal; nothing in a pipe or under CI.</summary>
public static class ProgressView
{
    static IAnsiConsole StderrConsole() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>Bars on stderr with description, bar, percentage, elapsed and remaining time.</summary>
    static Progress StandardBars() =>
        StderrConsole()
            .Progress()
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new PercentageColumn(),
                new ElapsedTimeColumn(),
                new RemainingTimeColumn()
            );

    public static T Run<T>(CliIo io, string label, Func<IProgress<EvalProgress>, T> work)
    {
        if (!io.Interactive)
            return work(new Progress<EvalProgress>(_ => { }));
        T result = default!;
        StandardBars()
            .Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: 1);
                result = work(
                    new SyncProgress<EvalProgress>(e =>
                    {
                        task.MaxValue = Math.Max(1, e.Total);
                        task.Value = e.Done;
                    })
                );
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>One bar per part of a suite, added when the part reports first.</summary>
    public static T RunParts<T>(CliIo io, Func<IProgress<SuiteProgress>?, T> work)
    {
        if (!io.Interactive)
            return work(null);
        T result = default!;
        StandardBars()
            .Start(ctx =>
            {
                var bars = new Dictionary<string, ProgressTask>();
                result = work(
                    new SyncSuiteProgress(e =>
                    {
                        if (!bars.TryGetValue(e.Part, out var bar))
                            bars[e.Part] = bar = ctx.AddTask(e.Part, maxValue: 1);
                        bar.MaxValue = Math.Max(1, e.Progress.Total);
                        bar.Value = e.Progress.Done;
                    })
                );
            });
        return result;
    }

    sealed class SyncSuiteProgress(Action<SuiteProgress> report) : IProgress<SuiteProgress>
    {
        public void Report(SuiteProgress value) => report(value);
    }

    /// <summary>A training progress bar with loss and tokens per second.</summary>
    public static T RunTraining<T>(CliIo io, string label, Func<IProgress<Alora.Training.TrainProgress>, T> work)
    {
        if (!io.Interactive)
        {
            long lastPrinted = 0;
            return work(
                new SyncProgress<Alora.Training.TrainProgress>(e =>
                {
                    // in a pipe: one line every 10% so logs stay short
                    if (e.Step == e.TotalSteps || e.Step - lastPrinted >= Math.Max(1, e.TotalSteps / 10))
                    {
                        lastPrinted = e.Step;
                        io.Err.WriteLine($"{label}: step {e.Step}/{e.TotalSteps} loss {e.Loss:F4} {e.TokensPerSecond:F0} tok/s");
                    }
                })
            );
        }
        T result = default!;
        StandardBars()
            .Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: 1);
                result = work(
                    new SyncProgress<Alora.Training.TrainProgress>(e =>
                    {
                        task.MaxValue = Math.Max(1, e.TotalSteps);
                        task.Value = e.Step;
                        task.Description = $"{label} loss {e.Loss:F4} {e.TokensPerSecond:F0} tok/s";
                    })
                );
            });
        return result;
    }

    /// <summary>
    /// An experiment's progress: on a terminal, a bar over the jobs (with the estimated time left) and one per running
    /// job (run, stage, step, loss; indeterminate for a job in a worker, which reports only its start and end); in a
    /// pipe, a line when a stage starts, every 10% of its steps, and when it ends.
    /// </summary>
    public static T RunExperiment<T>(CliIo io, Func<IProgress<ExperimentProgress>, T> work) => RunExperiment(io, (progress, _) => work(progress));

    /// <summary>As above, with a log for lines printed while the bars are up (through the bars' console, which keeps them below).</summary>
    public static T RunExperiment<T>(CliIo io, Func<IProgress<ExperimentProgress>, Action<string>, T> work)
    {
        if (!io.Interactive)
            return work(new SyncProgress<ExperimentProgress>(PlainLines(io)), io.Err.WriteLine);
        var console = StderrConsole();
        T result = default!;
        console
            .Progress()
            .HideCompleted(true) // one line for the experiment, one per running job, however many jobs
            .Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn { Width = 20 },
                new PercentageColumn(),
                new ElapsedTimeColumn()
            )
            .Start(ctx =>
            {
                ProgressTask? overall = null;
                var running = new Dictionary<string, ProgressTask>();
                var left = "";
                result = work(
                    new SyncProgress<ExperimentProgress>(e =>
                    {
                        overall ??= ctx.AddTask("experiment", maxValue: Math.Max(1, e.Jobs));
                        overall.Value = e.JobsDone;
                        if (e.ExperimentRemaining is { } r)
                            left = $", {Left(r)} left";
                        overall.Description = Markup.Escape($"experiment: {e.JobsDone}/{e.Jobs} jobs done{left}");
                        running.TryGetValue(e.Run, out var task);
                        switch (e.Event)
                        {
                            case ProgressEvent.Started:
                                task?.StopTask();
                                running[e.Run] = ctx.AddTask(Markup.Escape($"{e.Run} {e.Stage}"), maxValue: 1);
                                running[e.Run].IsIndeterminate = true; // until its first step, if it reports any
                                break;
                            case ProgressEvent.Step when task is not null:
                                task.IsIndeterminate = false;
                                task.MaxValue = Math.Max(1, e.TotalSteps);
                                task.Value = e.Step;
                                var loss = e.Loss is { } l ? string.Create(CultureInfo.InvariantCulture, $" loss {l:F3}") : "";
                                task.Description = Markup.Escape($"{e.Run} {e.Stage}{loss}, {Left(e.StageRemaining)} left");
                                break;
                            case ProgressEvent.Finished or ProgressEvent.Failed when task is not null:
                                task.IsIndeterminate = false;
                                task.Value = task.MaxValue;
                                task.StopTask();
                                running.Remove(e.Run);
                                break;
                        }
                    }),
                    line => console.WriteLine(line)
                );
                if (overall is not null)
                    overall.Value = overall.MaxValue;
                foreach (var task in running.Values)
                    task.StopTask();
            });
        return result;
    }

    /// <summary>In a pipe: a line per start, end and 10% of a training stage's steps, each naming its job (several may run at once).</summary>
    static Action<ExperimentProgress> PlainLines(CliIo io)
    {
        var lastPrinted = new Dictionary<string, long>();
        return e =>
        {
            var head = $"[{e.Job}/{e.Jobs}] {e.Run} {e.Stage}";
            switch (e.Event)
            {
                case ProgressEvent.Started:
                    lastPrinted[e.Run] = 0;
                    io.Err.WriteLine(head + ": started");
                    break;
                case ProgressEvent.Skipped:
                    io.Err.WriteLine(head + ": already done");
                    break;
                case ProgressEvent.Finished or ProgressEvent.Failed:
                    var left = e.ExperimentRemaining is { } r ? $", experiment left {Left(r)}" : "";
                    var what = e.Event == ProgressEvent.Failed ? "failed after" : "done in";
                    io.Err.WriteLine(
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"{head}: {what} {e.StageElapsed.TotalSeconds:F1} s ({e.JobsDone}/{e.Jobs} jobs done{left})"
                        )
                    );
                    break;
                case ProgressEvent.Step when !e.Stage.StartsWith("eval", StringComparison.Ordinal):
                    long last = lastPrinted.GetValueOrDefault(e.Run);
                    if (e.Step == e.TotalSteps || e.Step - last >= Math.Max(1, e.TotalSteps / 10))
                    {
                        lastPrinted[e.Run] = e.Step;
                        io.Err.WriteLine(head + ": " + StepText(e));
                    }
                    break;
            }
        };
    }

    static string StepText(ExperimentProgress e) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"step {e.Step}/{e.TotalSteps}{(e.Loss is { } l ? $" loss {l:F4}" : "")}, stage left {Left(e.StageRemaining)}, experiment left {Left(e.ExperimentRemaining)}"
        );

    static string Left(TimeSpan? t) =>
        t is not { } x ? "?"
        : x.TotalHours >= 1 ? $"{(int)x.TotalHours}h{x.Minutes:D2}m"
        : $"{x.Minutes}:{x.Seconds:D2}";

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool and can arrive late).</summary>
    sealed class SyncProgress<TValue>(Action<TValue> report) : IProgress<TValue>
    {
        public void Report(TValue value) => report(value);
    }
}
