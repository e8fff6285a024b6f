using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Generation;

/// <summary>Greedy decoding without a KV-cache: every step re-reads the whole prefix (ties go to the lowest id, as argmax).</summary>
public static class GreedyDecoder
{
    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens after the prompt, stopping after a stop id.
    /// The model reads the prompt and every new token but the last, so prompt + maxNewTokens - 1 positions
    /// must fit its context length: past it, transformers' generate only warns (GPT-2 then fails on its
    /// position table, RoPE models run on untrained positions), and dropping the oldest tokens would
    /// decode from a prompt the user never gave; so a request that does not fit is refused up front.
    /// </summary>
    public static IReadOnlyList<int> Generate(CausalLM model, IReadOnlyList<int> promptIds, int maxNewTokens, IReadOnlySet<int>? stopIds = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(promptIds);
        if (promptIds.Count == 0)
            throw new AloraException("the prompt is empty: give at least one token (for example the bos token)");
        if (maxNewTokens < 1)
            throw new AloraException($"--max-new-tokens must be at least 1 (got {maxNewTokens})");
        if (promptIds.Any(i => i < 0 || i >= model.VocabSize))
            throw new AloraException(
                $"prompt ids must lie in the model's vocabulary [0, {model.VocabSize}): got {string.Join(",", promptIds.Where(i => i < 0 || i >= model.VocabSize).Take(5))}"
            );
        int ctx = model.ContextLength;
        if ((long)promptIds.Count + maxNewTokens - 1 > ctx)
            throw new AloraException(
                promptIds.Count > ctx
                    ? $"the prompt has {promptIds.Count} tokens, more than the model's context length {ctx}"
                    : $"a prompt of {promptIds.Count} tokens and --max-new-tokens {maxNewTokens} need {promptIds.Count + maxNewTokens - 1} positions, "
                        + $"more than the model's context length {ctx}: at most {ctx - promptIds.Count + 1} new tokens fit after this prompt"
            );
        var device = model.parameters().First().device;
        var ids = promptIds.Select(i => (long)i).ToList();
        var generated = new List<int>();
        using var _ = no_grad();
        for (int step = 0; step < maxNewTokens; step++)
        {
            using var scope = NewDisposeScope();
            var input = tensor(ids.ToArray(), device: device).unsqueeze(0); // [1,T], T <= context length
            var logits = model.forward(input); // [1,T,V]
            int next = (int)logits[0, -1].argmax().item<long>();
            generated.Add(next);
            ids.Add(next);
            if (stopIds is not null && stopIds.Contains(next))
                break;
        }
        return generated;
    }
}
