using System.Text.Json.Serialization;
using Alora.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Training;

/// <summary>
/// Optimizers over flat parameter lists with state we own, so checkpoints can save and restore it
/// exactly. Formulas are PyTorch's (torch.optim.AdamW and SGD without momentum).
/// </summary>
public abstract class Optimizer : IDisposable
{
    protected Optimizer(IReadOnlyList<(string Name, Parameter Param)> parameters) => Parameters = parameters;

    public IReadOnlyList<(string Name, Parameter Param)> Parameters { get; }
    public long StepCount { get; protected set; }

    /// <summary>One update with learning rate <paramref name="lr"/> from the parameters' .grad.</summary>
    public abstract void Step(double lr);

    /// <summary>
    /// Why the next <see cref="Step"/> with <paramref name="lr"/> cannot be taken in the parameters' dtype, or null:
    /// libtorch refuses a coefficient that overflows the tensor's type (an lr of 1e300 in float32).
    /// </summary>
    public string? Unrepresentable(double lr)
    {
        var coefficients = Coefficients(lr).ToList();
        foreach (var (name, p) in Parameters)
        {
            var dtype = p.dtype;
            foreach (var (what, value) in coefficients)
                if (!double.IsFinite(value) || Math.Abs(value) > MaxFinite(dtype))
                    return $"the {GetType().Name} {what} {value:G4} overflows {dtype} (parameter {name})";
        }
        return null;
    }

    /// <summary>The numbers a step hands libtorch, named as in the update's formula.</summary>
    protected abstract IEnumerable<(string What, double Value)> Coefficients(double lr);

    static double MaxFinite(ScalarType t) =>
        t switch
        {
            ScalarType.Float16 => 65504,
            ScalarType.BFloat16 => 3.3895313892515355e38,
            ScalarType.Float32 => float.MaxValue,
            _ => double.MaxValue,
        };

    /// <summary>Named state tensors (for checkpoints).</summary>
    public abstract IEnumerable<KeyValuePair<string, Tensor>> State();
    public abstract void LoadState(IReadOnlyDictionary<string, Tensor> state, long stepCount);

    public void ZeroGrad()
    {
        foreach (var (_, p) in Parameters)
            if (p.grad is { } g)
            {
                g.zero_();
            }
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>Plain SGD: p -= lr * g.</summary>
public sealed class Sgd(IReadOnlyList<(string Name, Parameter Param)> parameters) : Optimizer(parameters)
{
    public override void Step(double lr)
    {
        using var _ = no_grad();
        foreach (var (_, p) in Parameters)
            if (p.grad is { } g)
                p.Plus_(g, -lr);
        StepCount++;
    }

    protected override IEnumerable<(string What, double Value)> Coefficients(double lr) => [("step size -lr", -lr)];

    public override IEnumerable<KeyValuePair<string, Tensor>> State() => [];

    public override void LoadState(IReadOnlyDictionary<string, Tensor> state, long stepCount) => StepCount = stepCount;
}

/// <summary>
/// AdamW (Loshchilov and Hutter), as torch.optim.AdamW: p *= 1 - lr*wd; m = b1 m + (1-b1) g;
/// v = b2 v + (1-b2) g^2; p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps).
/// </summary>
public sealed class AdamW : Optimizer
{
    readonly double _beta1,
        _beta2,
        _eps,
        _weightDecay;
    readonly Tensor[] _m,
        _v;

    public AdamW(
        IReadOnlyList<(string Name, Parameter Param)> parameters,
        double beta1 = 0.9,
        double beta2 = 0.999,
        double eps = 1e-8,
        double weightDecay = 0.0
    )
        : base(parameters)
    {
        _beta1 = beta1;
        _beta2 = beta2;
        _eps = eps;
        _weightDecay = weightDecay;
        _m = parameters.Select(p => zeros_like(p.Param).DetachFromDisposeScope()).ToArray();
        _v = parameters.Select(p => zeros_like(p.Param).DetachFromDisposeScope()).ToArray();
    }

    public override void Step(double lr)
    {
        using var _ = no_grad();
        StepCount++;
        double bc1 = 1 - Math.Pow(_beta1, StepCount),
            bc2 = 1 - Math.Pow(_beta2, StepCount);
        for (int i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i].Param;
            if (p.grad is not { } g)
                continue;
            using var scope = NewDisposeScope();
            if (_weightDecay != 0)
                p.Times_(1 - lr * _weightDecay);
            _m[i].Times_(_beta1).Plus_(g, 1 - _beta1);
            _v[i].Times_(_beta2).Addcmul_(g, g, 1 - _beta2);
            var denom = _v[i].sqrt().DividedBy(Math.Sqrt(bc2)).Plus_(_eps);
            p.Addcdiv_(_m[i], denom, -lr / bc1);
        }
    }

    protected override IEnumerable<(string What, double Value)> Coefficients(double lr)
    {
        long t = StepCount + 1;
        double bc1 = 1 - Math.Pow(_beta1, t),
            bc2 = 1 - Math.Pow(_beta2, t);
        return
        [
            ("decay factor 1 - lr*wd", 1 - lr * _weightDecay),
            ("step size -lr/(1-beta1^t)", -lr / bc1),
            ("1/sqrt(1-beta2^t)", 1 / Math.Sqrt(bc2)),
        ];
    }

    public override IEnumerable<KeyValuePair<string, Tensor>> State()
    {
        for (int i = 0; i < Parameters.Count; i++)
        {
            yield return new(Parameters[i].Name + ".exp_avg", _m[i]);
            yield return new(Parameters[i].Name + ".exp_avg_sq", _v[i]);
        }
    }

    public override void LoadState(IReadOnlyDictionary<string, Tensor> state, long stepCount)
    {
        using var _ = no_grad();
        for (int i = 0; i < Parameters.Count; i++)
        {
            _m[i].copy_(state[Parameters[i].Name + ".exp_avg"]);
            _v[i].copy_(state[Parameters[i].Name + ".exp_avg_sq"]);
        }
        StepCount = stepCount;
    }

    public override void Dispose()
    {
        foreach (var t in _m.Concat(_v))
            t.Dispose();
        base.Dispose();
    }
}

/// <summary>The learning rate after warm-up (option schedule).</summary>
[JsonConverter(typeof(NamedEnumConverter<LrSchedule>))]
public enum LrSchedule
{
    Constant,
    Linear,
    Cosine,
}

/// <summary>Learning rate at a step: linear warm-up from 0, then constant, linear or cosine decay to 0 (as transformers' schedulers).</summary>
public static class LearningRate
{
    public static double At(long step, long totalSteps, double peak, long warmupSteps, LrSchedule schedule)
    {
        if (warmupSteps > 0 && step < warmupSteps)
            return peak * (step + 1) / warmupSteps;
        if (schedule == LrSchedule.Constant || totalSteps <= warmupSteps)
            return peak;
        double progress = (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);
        return schedule switch
        {
            LrSchedule.Linear => peak * Math.Max(0, 1 - progress),
            LrSchedule.Cosine => peak * 0.5 * (1 + Math.Cos(Math.PI * progress)),
            _ => peak,
        };
    }
}
