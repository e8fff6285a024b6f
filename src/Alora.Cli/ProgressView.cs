using Alora.Eval;
using Spectre.Console;

namespace Alora.Cli;

/// <summary>A progress bar on stderr when it is a terminal; nothing in a pipe or under CI.</summary>
public static class ProgressView
{
    public static T Run<T>(CliIo io, string label, Func<IProgress<EvalProgress>, T> work)
    {
        if (!io.Interactive) return work(new Progress<EvalProgress>(_ => { }));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
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
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
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
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
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

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool and can arrive late).</summary>
    sealed class SyncProgress<TValue>(Action<TValue> report) : IProgress<TValue>
    {
        public void Report(TValue value) => report(value);
    }
}
