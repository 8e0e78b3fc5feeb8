"""The vocabularies of MovieLens 100K, defined once for every layer.

The accounts and catalog models, the import, the model's features and the
synthetic data all read them; nothing here reads a file (core.movielens does).
"""

# The 19 genres (u.genre), in the order of u.item's flags.
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
GENRE_COUNT = len(GENRES)
# The 21 occupations (u.occupation), in its order, with the words people read.
OCCUPATIONS = (
    ("administrator", "Administrator"), ("artist", "Artist"), ("doctor", "Doctor"),
    ("educator", "Educator"), ("engineer", "Engineer"), ("entertainment", "Entertainment"),
    ("executive", "Executive"), ("healthcare", "Healthcare"), ("homemaker", "Homemaker"),
    ("lawyer", "Lawyer"), ("librarian", "Librarian"), ("marketing", "Marketing"),
    ("none", "None"), ("other", "Other"), ("programmer", "Programmer"),
    ("retired", "Retired"), ("salesman", "Sales"), ("scientist", "Scientist"),
    ("student", "Student"), ("technician", "Technician"), ("writer", "Writer"),
)  # fmt: skip
# MovieLens records M and F; members may also say O. These are the model's
# genders (one-hot features, prior groups).
GENDERS = (("M", "Male"), ("F", "Female"), ("O", "Other"))
# A member may also decline: stored as N, it is no gender to the model (an
# all-zero one-hot, the prior of everyone that age), not "Other".
GENDER_CHOICES = (*GENDERS, ("N", "Prefer not to say"))
