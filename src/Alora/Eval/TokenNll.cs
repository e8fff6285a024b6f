using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Eval;

public static class TokenNll
{
    /// <summary>
    /// Next-token negative log-likelihood per position: logits [B,T,V], targets [B,T] (the token that
    /// follows each position) -> nll [B,T] in nats, computed in float32 with log_softmax.
    /// </summary>
    public static Tensor PerPosition(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var logp = logits.to_type(ScalarType.Float32).log_softmax(-1);                 // [B,T,V]
        return (-logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)).MoveToOuterDisposeScope();  // [B,T]
    }
}
