namespace Alora.Bench;

/// <summary>
/// Model FLOPs of one LoRA training step with a frozen base and LoRA on q_proj and v_proj (a multiply-add is 2 FLOPs):
/// the work the model needs, whatever the kernels do, as MFU counts it (PaLM, appendix B).
/// <code>
/// N = B T                                          tokens of the step
/// W = L (2 C^2 + 2 C KV D + 3 C I) + C V           base matmul weights: q, o (C x C); k, v (KV D x C); gate, up, down (I x C); lm_head (V x C)
/// P = L r ((C + C) + (C + KV D))                   LoRA factors: A (r x in) and B (out x r) of q (in C, out C) and v (in C, out KV D)
/// A = L 2 (2 B T^2 C)                              attention products Q K^T and P V ([B,H,T,D] by [B,H,D,T] and [B,H,T,T] by [B,H,T,D], H D = C)
/// forward  = 2 N W + 2 N P + A
/// backward = 2 N W + 2 N P                         input gradients of every matmul
///          + 2 N P                                 weight gradients: only the LoRA factors' (the base is frozen)
///          + 2 A                                   attention: both operands of each product are activations, each gets a gradient
/// total    = 4 N W + 6 N P + 3 A
/// </code>
/// The causal mask is counted full (T^2, not T(T+1)/2), as PaLM's MFU does. The embedding is a lookup and the norms,
/// RoPE, SiLU, softmax, loss and AdamW are elementwise: none is counted. Input gradients are counted for every matmul,
/// including layer 0's q, k, v and LoRA A, whose input (the normed frozen embedding) needs none: that overstates the
/// count by 2 N C (C + 2 KV D) + 4 N r C, 0.2% (tinyllama-1.1b) to 4.5% (wide, 2 layers) of the named shapes' totals.
/// </summary>
public sealed record TrainFlops(long Tokens, long BaseWeights, long LoraParameters, long Attention)
{
    /// <summary>The formula above in one line, for the JSON.</summary>
    public const string Formula =
        "total = 4*N*W + 6*N*P + 3*A; forward = 2*N*(W+P) + A; backward = 2*N*(W+P) (input grads) + 2*N*P (LoRA weight grads) + 2*A; "
        + "N = batch*seq tokens; W = layers*(2*C^2 + 2*C*kv*D + 3*C*I) + C*V base matmul weights incl. lm_head; "
        + "P = layers*r*((C+C) + (C+kv*D)) LoRA factors of q_proj and v_proj; A = layers*2*(2*batch*seq^2*C) attention QK^T and PV, "
        + "causal counted full as PaLM's MFU; embedding lookup, norms, RoPE, softmax, loss and AdamW not counted";

    public static TrainFlops Of(TrainBenchShape s, int rank)
    {
        long c = s.Hidden,
            kv = (long)s.KvHeads * s.HeadDim, // k and v output width
            n = s.TokensPerStep;
        long w = s.Layers * (2 * c * c + 2 * c * kv + 3 * c * s.Intermediate) + c * s.Vocab;
        long p = s.Layers * rank * ((c + c) + (c + kv));
        long a = s.Layers * 2 * (2L * s.Batch * s.Seq * s.Seq * c);
        return new TrainFlops(n, w, p, a);
    }

    public long Forward => 2 * Tokens * (BaseWeights + LoraParameters) + Attention;
    public long Backward => 2 * Tokens * (BaseWeights + LoraParameters) + 2 * Tokens * LoraParameters + 2 * Attention;
    public long Total => Forward + Backward;
}
