"""``Scribe``: writes ``report.md`` about the prompt to its output folder (the artifact)."""

from __future__ import annotations

import hashlib

from agentfm_nb.mesh.demo_agents._prompt import output_dir, read_prompt


def main() -> None:
    prompt = read_prompt()
    words = prompt.split()
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:16]
    print("Scribe: drafting report.md", flush=True)
    report = "\n".join(
        [
            "# Report",
            "",
            "## Prompt",
            "",
            prompt.strip() or "(empty)",
            "",
            "## Facts",
            "",
            f"- words: {len(words)}",
            f"- characters: {len(prompt)}",
            f"- sha256 prefix: `{digest}`",
            "",
        ]
    )
    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report, encoding="utf-8")
    print(f"Scribe: wrote report.md ({len(report.encode())} bytes)", flush=True)


if __name__ == "__main__":
    main()
