"""One-line explanations of why a candidate matched a brand, in the reader's terms."""

from __future__ import annotations

import unicodedata

from rapidfuzz.distance import Levenshtein

from brandcrawl.matching.text import LEET, LEET_SYMBOLS, fold_char


def look_alikes(original: str) -> list[str]:
    """Characters of ``original`` that stand in for Latin letters: "Cyrillic а", "1 for l"."""
    notes = []
    for char in original:
        if char.isascii():
            if char in LEET or char in LEET_SYMBOLS:
                notes.append(f"{char} for {LEET.get(char) or LEET_SYMBOLS[char]}")
            continue
        folded = fold_char(char)
        if not folded:
            continue
        name = unicodedata.name(char, "")
        script = name.split(" ", 1)[0].capitalize() if name else "Unicode"
        if script == "Latin":
            notes.append(f"accented {char}")
        else:
            notes.append(f"{script} {char}")
    return list(dict.fromkeys(notes))


def look_alike_letters(brand: str, written: str) -> list[str]:
    """Letters a reader takes for the brand's own: "l for i", "rn for m", "vv for w"."""
    notes, p, q = [], 0, 0
    while p < len(brand) and q < len(written):
        if brand[p] == written[q]:
            p, q = p + 1, q + 1
        elif brand[p] in "mw" and written[q : q + 2] == {"m": "rn", "w": "vv"}[brand[p]]:
            notes.append(f"{written[q : q + 2]} for {brand[p]}")
            p, q = p + 1, q + 2
        elif written[q] in "mw" and brand[p : p + 2] == {"m": "rn", "w": "vv"}[written[q]]:
            notes.append(f"{written[q]} for {brand[p : p + 2]}")
            p, q = p + 2, q + 1
        else:
            notes.append(f"{written[q]} for {brand[p]}")
            p, q = p + 1, q + 1
    return list(dict.fromkeys(notes))


def typo(brand: str, written: str) -> str:
    """What changed between the brand's label and the matched letters, edit by edit."""
    for index in range(len(brand) - 1):
        if brand[:index] + brand[index + 1] + brand[index] + brand[index + 2 :] == written:
            return f"letters swapped ({brand[index : index + 2]}→{written[index : index + 2]})"
    operations = Levenshtein.editops(brand, written)
    notes: list[str] = []
    skip = False
    listed = list(operations)
    for index, operation in enumerate(listed):
        if skip:
            skip = False
            continue
        following = listed[index + 1] if index + 1 < len(listed) else None
        if (
            operation.tag == "replace"
            and following is not None
            and following.tag == "replace"
            and following.src_pos == operation.src_pos + 1
            and brand[operation.src_pos] == written[following.dest_pos]
            and brand[following.src_pos] == written[operation.dest_pos]
        ):
            pair = brand[operation.src_pos : operation.src_pos + 2]
            notes.append(f"letters swapped ({pair}→{pair[::-1]})")
            skip = True
        elif operation.tag == "replace":
            notes.append(f"1 letter replaced ({brand[operation.src_pos]}→{written[operation.dest_pos]})")
        elif operation.tag == "delete":
            notes.append(f"1 letter missing ({brand[operation.src_pos]})")
        else:
            added = written[operation.dest_pos]
            repeated = operation.dest_pos > 0 and written[operation.dest_pos - 1] == added
            notes.append(f"1 letter {'repeated' if repeated else 'added'} ({added})")
    return ", ".join(notes)
