using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>
/// A penalty strength given scale-free: strength = rho * CE_0 / P_ref, CE_0 the cross-entropy of the domain stage's
/// first step and P_ref the penalty (at strength 1) of moving the adapter as far as the general stage moved it, from
/// its B = 0 start to D_nu. rho is then the fraction of the initial cross-entropy such a move costs, whatever the units
/// of the importance (SI's Omega or a Fisher). Set once, at the first step (when D = D_nu, so the penalty is 0 whatever
/// the strength), and kept in checkpoints so a resumed run goes on with the same value.
/// </summary>
public sealed class RelativeStrength : IDisposable
{
    Tensor? _state; // [1] float64, owned here

    /// <param name="rho">The fraction of CE_0 (finite, &gt;= 0).</param>
    /// <param name="referencePenalty">P_ref (finite, &gt; 0).</param>
    /// <param name="option">The option name for messages (--relative-strength).</param>
    /// <param name="source">What P_ref was computed from, for messages.</param>
    public RelativeStrength(double rho, double referencePenalty, string option, string source)
    {
        if (!(rho >= 0 && double.IsFinite(rho)))
            throw new AloraException($"{option} must be a finite number >= 0 (got {rho})");
        if (!(referencePenalty > 0) || !double.IsFinite(referencePenalty))
            throw new AloraException(
                $"{source}: the reference penalty of a move as far as the general stage's is {referencePenalty}, so {option} cannot set the strength: give it directly"
            );
        Rho = rho;
        ReferencePenalty = referencePenalty;
    }

    public double Rho { get; }
    public double ReferencePenalty { get; }

    /// <summary>CE_0, once the first step has set the strength (null on a resumed run, whose strength came from its checkpoint).</summary>
    public double? InitialTaskLoss { get; private set; }

    /// <summary>The strength, or NaN before the first step.</summary>
    public double Value { get; private set; } = double.NaN;

    /// <summary>At the first step, sets the strength from that step's cross-entropy; later calls return it unchanged.</summary>
    public double At(double taskLoss)
    {
        if (double.IsNaN(Value))
        {
            InitialTaskLoss = taskLoss;
            Set(Rho * taskLoss / ReferencePenalty);
        }
        return Value;
    }

    void Set(double value)
    {
        Value = value;
        _state?.Dispose();
        // made inside a step's dispose scope, but kept (and disposed) by this object
        _state = tensor(new[] { value }, [1], ScalarType.Float64).DetachFromDisposeScope();
    }

    /// <summary>The checkpoint entry (none before the first step).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State(string key) => _state is null ? [] : [new(key, _state)];

    public void LoadState(IReadOnlyDictionary<string, Tensor> state, string key)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.TryGetValue(key, out var t))
            Set(t.to(ScalarType.Float64).item<double>());
    }

    public void Dispose() => _state?.Dispose();
}
