using System.Diagnostics;

namespace Alora.Experiments;

/// <summary>Failed: a job run by a worker (<see cref="ExperimentRunOptions.LaunchJob"/>) failed; the experiment stops after the running ones.</summary>
public enum ProgressEvent
{
    Started,
    Step,
    Finished,
    Skipped,
    Failed,
}

/// <summary>
/// Where a long experiment is: job <see cref="Job"/> of <see cref="Jobs"/> (run <see cref="Run"/>), its stage
/// ("general stage", "domain stage", "fisher", "eval"), the step within the stage, the last training loss,
/// and estimates of the time left in the stage and in the whole experiment (null while unknown). With several
/// workers, events of different jobs interleave: <see cref="Job"/> is the job's place in the plan, a launched job
/// reports only Started and Finished (or Failed), its stage naming all it still had to do ("domain stage + eval").
/// </summary>
public sealed record ExperimentProgress(
    ProgressEvent Event,
    int Job,
    int Jobs,
    string Run,
    string Stage,
    long Step,
    long TotalSteps,
    double? Loss,
    TimeSpan StageElapsed,
    TimeSpan? StageRemaining,
    TimeSpan? ExperimentRemaining
)
{
    /// <summary>Jobs finished (or found finished) so far.</summary>
    public int JobsDone { get; init; }
}

/// <summary>
/// Estimates the time left: the current stage from its own pace, each pending stage from the mean duration of
/// finished stages of the same kind (or, before any finished, from the projected length of the current one).
/// </summary>
internal sealed class EtaEstimator
{
    readonly Dictionary<string, List<double>> _done = [];
    readonly List<string> _pending;
    string? _current;
    readonly Stopwatch _clock = new();
    long _firstStep = -1;

    public EtaEstimator(IEnumerable<string> pendingStages) => _pending = [.. pendingStages];

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Start(string stage)
    {
        _current = stage;
        int i = _pending.IndexOf(stage);
        if (i >= 0)
            _pending.RemoveAt(i);
        _firstStep = -1;
        _clock.Restart();
    }

    public void Finish()
    {
        if (_current is null)
            return;
        if (!_done.TryGetValue(_current, out var list))
            _done[_current] = list = [];
        list.Add(_clock.Elapsed.TotalSeconds);
        _current = null;
        _clock.Stop();
    }

    /// <summary>Marks a planned stage as not needed after all (its outputs were found).</summary>
    public void Drop(string stage)
    {
        int i = _pending.IndexOf(stage);
        if (i >= 0)
            _pending.RemoveAt(i);
    }

    public (TimeSpan? Stage, TimeSpan? Experiment) Remaining(long step, long total)
    {
        if (_firstStep < 0)
            _firstStep = Math.Max(0, step - 1);
        double? stageLeft = null,
            projected = null;
        long done = step - _firstStep;
        if (done > 0 && total > 0)
        {
            double per = _clock.Elapsed.TotalSeconds / done;
            stageLeft = per * (total - step);
            projected = per * (total - _firstStep);
        }
        double rest = 0;
        foreach (var kind in _pending)
        {
            double? est =
                _done.TryGetValue(kind, out var l) && l.Count > 0 ? l.Average()
                : kind == _current ? projected
                : _done.Count > 0 ? _done.Values.SelectMany(x => x).Average()
                : projected;
            if (est is null)
                return (Span(stageLeft), null);
            rest += est.Value;
        }
        return (Span(stageLeft), stageLeft is null ? null : Span(stageLeft + rest));
    }

    static TimeSpan? Span(double? s) => s is null ? null : TimeSpan.FromSeconds(Math.Max(0, s.Value));
}
