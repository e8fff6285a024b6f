using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Generation;

/// <summary>
/// Greedy decoding with a key/value cache: the prompt is read once, then each step reads only the newest token
/// (ties go to the lowest id, as argmax). Each new token is reported as soon as it is chosen.
/// </summary>
public static class GreedyDecoder
{
    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens after the prompt, stopping after a stop id.
    /// The model reads the prompt and every new token but the last, so prompt + maxNewTokens - 1 positions
    /// must fit its context length: past it, transformers' generate only warns (GPT-2 then fails on its
    /// position table, RoPE models run on untrained positions), and dropping the oldest tokens would
    /// decode from a prompt the user never gave; so a request that does not fit is refused up front.
    /// </summary>
    public static IReadOnlyList<int> Generate(
        CausalLM model,
        IReadOnlyList<int> promptIds,
        int maxNewTokens,
        IReadOnlySet<int>? stopIds = null,
        Action<int>? onToken = null
    )
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
        var generated = new List<int>();
        bool wasTraining = model.training;
        model.eval();
        using var cache = model.NewCache(promptIds.Count + maxNewTokens - 1); // the last new token is never read
        using (no_grad())
        {
            var input = promptIds.Select(i => (long)i).ToArray();
            for (int step = 0; step < maxNewTokens; step++)
            {
                using var scope = NewDisposeScope();
                var hidden = model.Hidden(tensor(input, device: device).unsqueeze(0), cache); // [1,T,C]
                var logits = model.Head(hidden[0, -1]); // [V]
                int next = (int)logits.argmax().item<long>();
                generated.Add(next);
                onToken?.Invoke(next);
                if (stopIds is not null && stopIds.Contains(next))
                    break;
                input = [next];
            }
        }
        if (wasTraining)
            model.train();
        return generated;
    }
}
