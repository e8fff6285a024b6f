namespace Alora.Data;

/// <summary>
/// A multiple-choice item exactly as lm-evaluation-harness scores it: the context is <see cref="Prompt"/>,
/// each continuation is " " + a choice, and <see cref="Answer"/> is the index of the correct choice.
/// </summary>
public sealed record McqItem(string Prompt, IReadOnlyList<string> Choices, int Answer, string? Id = null);
