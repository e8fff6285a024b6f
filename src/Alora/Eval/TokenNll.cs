using Alora.Models;
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

    /// <summary>
    /// The same from the model, with the output projection applied to chunks of
    /// <see cref="CausalLM.HeadChunkRows"/> positions: ids [B,T], targets [B,T] -> nll [B,T].
    /// </summary>
    public static Tensor PerPosition(CausalLM model, Tensor ids, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(ids);                                                  // [B,T,C]
        var flat = hidden.reshape(-1, hidden.shape[2]);                                  // [B*T,C]
        var flatTargets = targets.reshape(-1);                                           // [B*T]
        var parts = new List<Tensor>();
        long rows = flat.shape[0];
        for (long r = 0; r < rows; r += model.HeadChunkRows)
        {
            long n = Math.Min(model.HeadChunkRows, rows - r);
            var logits = model.Head(flat.narrow(0, r, n));                               // [n,V]
            parts.Add(nn.functional.cross_entropy(logits, flatTargets.narrow(0, r, n), reduction: nn.Reduction.None));
        }
        return cat(parts, 0).view(ids.shape[0], ids.shape[1]).MoveToOuterDisposeScope();
    }
}
