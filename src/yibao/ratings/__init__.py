"""好差评: one rating per finished case, rectification of bad ratings, follow-ups and appeals."""
