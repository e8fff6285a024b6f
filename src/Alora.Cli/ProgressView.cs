using Alora.Eval;
using Spectre.Console;

namespace Alora.Cli;

/// <summary>A progress bar on stderr when it is a terminal; nothing in a pipe or under CI.</summary>
public static class ProgressView
{
    static IAnsiConsole StderrConsole() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>Bars on stderr with description, bar, percentage, elapsed and remaining time.</summary>
    static Progress StandardBars() => StderrConsole().Progress()
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn());

    public static T Run<T>(CliIo io, string label, Func<IProgress<EvalProgress>, T> work)
    {
        if (!io.Interactive) return work(new Progress<EvalProgress>(_ => { }));
        T result = default!;
        StandardBars()
            .Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: 1);
                result = work(new SyncProgress<EvalProgress>(e => { task.MaxValue = Math.Max(1, e.Total); task.Value = e.Done; }));
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>One bar per part of a suite, added when the part reports first.</summary>
    public static T RunParts<T>(CliIo io, Func<IProgress<SuiteProgress>?, T> work)
    {
        if (!io.Interactive) return work(null);
        T result = default!;
        StandardBars()
            .Start(ctx =>
            {
                var bars = new Dictionary<string, ProgressTask>();
                result = work(new SyncSuiteProgress(e =>
                {
                    if (!bars.TryGetValue(e.Part, out var bar)) bars[e.Part] = bar = ctx.AddTask(e.Part, maxValue: 1);
                    bar.MaxValue = Math.Max(1, e.Progress.Total);
                    bar.Value = e.Progress.Done;
                }));
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
            return work(new SyncProgress<Alora.Training.TrainProgress>(e =>
            {
                // in a pipe: one line every 10% so logs stay short
                if (e.Step == e.TotalSteps || e.Step - lastPrinted >= Math.Max(1, e.TotalSteps / 10))
                {
                    lastPrinted = e.Step;
                    io.Err.WriteLine($"{label}: step {e.Step}/{e.TotalSteps} loss {e.Loss:F4} {e.TokensPerSecond:F0} tok/s");
                }
            }));
        }
        T result = default!;
        StandardBars()
            .Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: 1);
                result = work(new SyncProgress<Alora.Training.TrainProgress>(e =>
                {
                    task.MaxValue = Math.Max(1, e.TotalSteps);
                    task.Value = e.Step;
                    task.Description = $"{label} loss {e.Loss:F4} {e.TokensPerSecond:F0} tok/s";
                }));
            });
        return result;
    }

    /// <summary>
    /// An experiment's progress: on a terminal, a bar over the jobs (with the estimated time left) and one for the
    /// current stage (run, stage, step, loss); in a pipe, a line when a stage starts, every 10% of its steps, and when it ends.
    /// </summary>
    public static T RunExperiment<T>(CliIo io, Func<IProgress<Alora.Experiments.ExperimentProgress>, T> work)
    {
        if (!io.Interactive)
        {
            long lastPrinted = 0;
            return work(new SyncProgress<Alora.Experiments.ExperimentProgress>(e =>
            {
                var head = $"[{e.Job}/{e.Jobs}] {e.Run} {e.Stage}";
                switch (e.Event)
                {
                    case Alora.Experiments.ProgressEvent.Started:
                        lastPrinted = 0;
                        io.Err.WriteLine(head + ": started");
                        break;
                    case Alora.Experiments.ProgressEvent.Skipped:
                        io.Err.WriteLine(head + ": already done");
                        break;
                    case Alora.Experiments.ProgressEvent.Finished:
                        io.Err.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{head}: done in {e.StageElapsed.TotalSeconds:F1} s"));
                        break;
                    case Alora.Experiments.ProgressEvent.Step when !e.Stage.StartsWith("eval", StringComparison.Ordinal):
                        if (e.Step == e.TotalSteps || e.Step - lastPrinted >= Math.Max(1, e.TotalSteps / 10))
                        {
                            lastPrinted = e.Step;
                            io.Err.WriteLine(head + ": " + StepText(e));
                        }
                        break;
                }
            }));
        }
        var console = StderrConsole();
        T result = default!;
        console.Progress()
            .HideCompleted(true) // one line for the experiment, one for the current stage, however many jobs
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 20 }, new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                ProgressTask? overall = null, stage = null;
                result = work(new SyncProgress<Alora.Experiments.ExperimentProgress>(e =>
                {
                    overall ??= ctx.AddTask("experiment", maxValue: Math.Max(1, e.Jobs));
                    overall.Value = e.Job - 1;
                    if (e.Event == Alora.Experiments.ProgressEvent.Started)
                    {
                        stage?.StopTask();
                        stage = ctx.AddTask(Markup.Escape($"{e.Run} {e.Stage}"), maxValue: 1);
                    }
                    if (stage is null) return;
                    if (e.Event == Alora.Experiments.ProgressEvent.Step)
                    {
                        stage.MaxValue = Math.Max(1, e.TotalSteps);
                        stage.Value = e.Step;
                        var loss = e.Loss is { } l ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $" loss {l:F3}") : "";
                        stage.Description = Markup.Escape($"{e.Run} {e.Stage}{loss}, {Left(e.StageRemaining)} left");
                        overall.Description = Markup.Escape($"experiment: job {e.Job}/{e.Jobs}, {Left(e.ExperimentRemaining)} left");
                    }
                    else if (e.Event == Alora.Experiments.ProgressEvent.Finished)
                    {
                        stage.Value = stage.MaxValue;
                    }
                }));
                if (overall is not null) overall.Value = overall.MaxValue;
                stage?.StopTask();
            });
        return result;
    }

    static string StepText(Alora.Experiments.ExperimentProgress e) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"step {e.Step}/{e.TotalSteps}{(e.Loss is { } l ? $" loss {l:F4}" : "")}, stage left {Left(e.StageRemaining)}, experiment left {Left(e.ExperimentRemaining)}");

    static string Left(TimeSpan? t) => t is not { } x ? "?" : x.TotalHours >= 1 ? $"{(int)x.TotalHours}h{x.Minutes:D2}m" : $"{x.Minutes}:{x.Seconds:D2}";

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool and can arrive late).</summary>
    sealed class SyncProgress<TValue>(Action<TValue> report) : IProgress<TValue>
    {
        public void Report(TValue value) => report(value);
    }
}
