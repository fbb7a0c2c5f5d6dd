"""Word lists the generator draws from: names, titles, countries, campaigns, mess.

Plain data, no logic. Names come in language groups so a person at a German
company is most likely called like one; each name has an ASCII spelling for
email addresses (Müller -> mueller, Zoë -> zoe, O'Brien -> obrien).
"""

from __future__ import annotations

# --- people -----------------------------------------------------------------

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
        "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
        "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra",
        "Steven", "Ashley", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kevin", "Amanda",
        "Brian", "Melissa", "George", "Stephanie", "Timothy", "Rebecca", "Ryan", "Laura", "Jacob", "Zoë",
        "Oliver", "Amelia", "Harry", "Olivia", "Jack", "Isla", "Charlie", "Ava", "Liam", "Chloë",
        "Siobhán", "Seán", "Niamh", "Aoife", "Ciarán", "Renée", "Noah", "Grace", "Ethan", "Hannah",
    ),
    "de": (
        "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Frank", "Jürgen", "Klaus", "Uwe",
        "Sabine", "Petra", "Claudia", "Andrea", "Susanne", "Nicole", "Stefanie", "Katrin", "Birgit", "Ute",
        "Lukas", "Jonas", "Leon", "Maximilian", "Felix", "Paul", "Niklas", "Tobias", "Sebastian", "Florian",
        "Anna", "Lena", "Lea", "Hannah", "Sophie", "Marie", "Laura", "Julia", "Katharina", "Jörg",
        "Björn", "Sören", "Günter", "Dörte", "Jürgen", "Käthe", "Gerd", "Heike", "Ralf", "Dirk",
    ),
    "fr": (
        "François", "Jean", "Pierre", "Michel", "Philippe", "Alain", "Nicolas", "Christophe", "Sébastien", "Julien",
        "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Françoise", "Valérie", "Sandrine", "Céline", "Hélène",
        "Léa", "Chloé", "Camille", "Manon", "Inès", "Océane", "Mathilde", "Élodie", "Agnès", "Brigitte",
        "Lucas", "Hugo", "Théo", "Louis", "Gabriel", "Raphaël", "Jérôme", "Stéphane", "Frédéric", "Benoît",
        "Anaïs", "Noémie", "Gaëlle", "Loïc", "Maël", "Joël", "Aurélie", "Cécile", "Thérèse", "Amélie",
    ),
    "nl": (
        "Jan", "Pieter", "Dirk", "Hendrik", "Willem", "Sander", "Bram", "Daan", "Sem", "Lars",
        "Anouk", "Sanne", "Femke", "Lotte", "Eva", "Fleur", "Maaike", "Ingrid", "Marieke", "Annelies",
        "Joost", "Ruud", "Bas", "Thijs", "Joris", "Wouter", "Koen", "Niels", "Esther", "Mirjam",
    ),
    "es": (
        "José", "Antonio", "Manuel", "Francisco", "Javier", "David", "Juan", "Carlos", "Jesús", "Alejandro",
        "María", "Carmen", "Lucía", "Ana", "Laura", "Sofía", "Marta", "Paula", "Elena", "Inés",
        "Joaquín", "Andrés", "Sebastián", "Martín", "Raúl", "Ángel", "Álvaro", "Rocío", "Begoña", "Nuria",
        "João", "Gonçalo", "Luís", "Conceição", "Márcia", "Thiago", "Rafael", "Gabriela", "Fernanda", "Beatriz",
    ),
    "it": (
        "Giuseppe", "Giovanni", "Antonio", "Mario", "Luigi", "Francesco", "Marco", "Alessandro", "Andrea", "Luca",
        "Giulia", "Francesca", "Chiara", "Sara", "Valentina", "Alessia", "Federica", "Elisa", "Martina", "Silvia",
        "Niccolò", "Nicolò", "Lorenzo", "Matteo", "Davide", "Simone", "Paola", "Roberta", "Ilaria", "Gianluca",
    ),
    "nordic": (
        "Lars", "Anders", "Johan", "Erik", "Nils", "Magnus", "Henrik", "Mikael", "Søren", "Bjørn",
        "Anna", "Karin", "Ingrid", "Astrid", "Sigrid", "Maja", "Linnéa", "Åsa", "Märta", "Mette",
        "Jørgen", "Øystein", "Kristoffer", "Emil", "Oskar", "Freja", "Ida", "Sofie", "Elin", "Tuva",
    ),
    "pl": (
        "Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał", "Marcin", "Łukasz", "Jakub", "Grzegorz",
        "Anna", "Katarzyna", "Małgorzata", "Agnieszka", "Magdalena", "Joanna", "Ewa", "Barbara", "Zofia", "Aleksandra",
    ),
    "in": (
        "Aarav", "Vivaan", "Aditya", "Arjun", "Rohan", "Rahul", "Amit", "Sanjay", "Vikram", "Rajesh",
        "Priya", "Ananya", "Diya", "Kavya", "Pooja", "Neha", "Sneha", "Deepika", "Lakshmi", "Shreya",
        "Karthik", "Suresh", "Ramesh", "Anil", "Sunil", "Meera", "Divya", "Swati", "Nisha", "Arun",
    ),
    "east_asia": (
        "Wei", "Jing", "Li", "Min", "Hao", "Xin", "Yan", "Jun", "Lei", "Ying",
        "Hiroshi", "Takashi", "Kenji", "Yuki", "Haruto", "Sakura", "Yui", "Aiko", "Ren", "Kaito",
        "Ji-ho", "Min-jun", "Seo-yeon", "Ji-woo", "Hyun", "Mei", "Xiaoming", "Jiayi", "Zhiwei", "Yuto",
    ),
}

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
        "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
        "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams",
        "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker",
        "O'Brien", "O'Connor", "O'Neill", "McCarthy", "MacDonald", "Murphy", "Kelly", "Byrne", "Fitzgerald", "Doyle",
        "Hughes", "Edwards", "Collins", "Stewart", "Morris", "Rogers", "Reed", "Cook", "Morgan", "Bell",
        "Cooper", "Richardson", "Cox", "Howard", "Ward", "Peterson", "Gray", "James", "Watson", "Brooks",
        "Sanders", "Price", "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins", "Perry",
    ),
    "de": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
        "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
        "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
        "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
        "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert",
        "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz",
        "Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin",
        "von Bülow", "Groß", "Dietrich", "Jäger", "Stößel", "Brändle", "Özdemir", "Yılmaz", "Kühn", "Pohl",
    ),
    "fr": (
        "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
        "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
        "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Müller", "Lefebvre", "Faure", "André",
        "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
        "Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson",
        "Lemaître", "Bérenger", "Géraud", "Ménard", "Hébert", "Benoît", "Thévenin", "de la Fontaine", "Le Goff", "d'Arcy",
    ),
    "nl": (
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer",
        "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
        "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    ),
    "es": (
        "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín",
        "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez",
        "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Suárez",
        "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Gonçalves", "Araújo", "Simões",
    ),
    "it": (
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
        "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "D'Angelo",
    ),
    "nordic": (
        "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson",
        "Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen", "Jørgensen",
        "Johansen", "Olsen", "Berg", "Haugen", "Håkansson", "Lindström", "Åberg", "Öberg", "Virtanen", "Mäkinen",
    ),
    "pl": (
        "Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński", "Szymański", "Woźniak",
        "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Kwiatkowski", "Krawczyk", "Piotrowski", "Grabowski", "Nowakowski", "Pawłowski",
    ),
    "in": (
        "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Shah", "Mehta", "Reddy", "Rao",
        "Iyer", "Nair", "Menon", "Pillai", "Das", "Banerjee", "Chatterjee", "Mukherjee", "Joshi", "Desai",
        "Kulkarni", "Agarwal", "Bhat", "Chopra", "Malhotra", "Kapoor", "Khanna", "Srinivasan", "Krishnan", "Subramanian",
    ),
    "east_asia": (
        "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
        "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato",
        "Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Tan", "Lim",
    ),
}

# ASCII spelling for email local parts (how people and IT departments really do it).
_TRANSLIT = {
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue",
    "é": "e", "è": "e", "ê": "e", "ë": "e", "É": "e", "È": "e", "à": "a", "â": "a", "á": "a", "ã": "a", "å": "a",
    "Å": "a", "Á": "a", "Ä́": "a", "ç": "c", "Ç": "c", "î": "i", "ï": "i", "í": "i", "ı": "i", "ô": "o", "ó": "o",
    "õ": "o", "ø": "o", "Ø": "o", "Ó": "o", "û": "u", "ú": "u", "ù": "u", "ñ": "n", "ł": "l", "Ł": "l", "ś": "s",
    "Ś": "s", "ż": "z", "ź": "z", "ć": "c", "ń": "n", "ą": "a", "ę": "e", "ş": "s", "Ş": "s", "ğ": "g", "æ": "ae",
    "Æ": "ae", "Ö́": "o", "Ά": "a", "Á́": "a", "Ä̈": "a", "Í": "i", "Ú": "u", "Ñ": "n", "œ": "oe",
}


def ascii_slug(name: str) -> str:
    """Lower-case ASCII letters, digits and hyphens of a name: "Jürgen" -> "juergen", "O'Brien" -> "obrien"."""
    out = []
    for ch in name:
        ch = _TRANSLIT.get(ch, ch)
        for c in ch.lower():
            if c.isascii() and (c.isalnum() or c == "-"):
                out.append(c)
    return "".join(out)


# Language mix of people at a company in each country (the rest are drawn from everywhere).
COUNTRY_LANGUAGE: dict[str, str] = {
    "US": "en", "GB": "en", "IE": "en", "CA": "en", "AU": "en", "NZ": "en", "ZA": "en", "SG": "east_asia",
    "DE": "de", "AT": "de", "CH": "de", "FR": "fr", "BE": "fr", "NL": "nl", "ES": "es", "MX": "es",
    "AR": "es", "CL": "es", "CO": "es", "BR": "es", "PT": "es", "IT": "it", "SE": "nordic", "DK": "nordic",
    "NO": "nordic", "FI": "nordic", "PL": "pl", "IN": "in", "JP": "east_asia", "KR": "east_asia",
    "HK": "east_asia", "IL": "en", "AE": "in",
}
OWN_LANGUAGE_SHARE = 0.72

# --- countries ----------------------------------------------------------------

# ISO-2, weight in the company universe, region, English / German / French name,
# international dialling code, company TLDs (first is the usual one).
COUNTRIES: dict[str, tuple[float, str, str, str, str, str, tuple[str, ...]]] = {
    "US": (30.0, "NA", "United States", "Vereinigte Staaten", "États-Unis", "1", (".com", ".io", ".ai", ".co")),
    "GB": (10.0, "EMEA", "United Kingdom", "Vereinigtes Königreich", "Royaume-Uni", "44", (".co.uk", ".com", ".io")),
    "DE": (10.0, "EMEA", "Germany", "Deutschland", "Allemagne", "49", (".de", ".com", ".io")),
    "FR": (6.0, "EMEA", "France", "Frankreich", "France", "33", (".fr", ".com", ".io")),
    "NL": (4.0, "EMEA", "Netherlands", "Niederlande", "Pays-Bas", "31", (".nl", ".com", ".io")),
    "CA": (4.0, "NA", "Canada", "Kanada", "Canada", "1", (".ca", ".com", ".io")),
    "AU": (4.0, "APAC", "Australia", "Australien", "Australie", "61", (".com.au", ".com", ".io")),
    "IN": (4.0, "APAC", "India", "Indien", "Inde", "91", (".in", ".com", ".co.in", ".ai")),
    "ES": (2.5, "EMEA", "Spain", "Spanien", "Espagne", "34", (".es", ".com")),
    "IT": (2.5, "EMEA", "Italy", "Italien", "Italie", "39", (".it", ".com")),
    "SE": (2.0, "EMEA", "Sweden", "Schweden", "Suède", "46", (".se", ".com", ".io")),
    "CH": (2.0, "EMEA", "Switzerland", "Schweiz", "Suisse", "41", (".ch", ".com")),
    "AT": (1.5, "EMEA", "Austria", "Österreich", "Autriche", "43", (".at", ".com")),
    "BE": (1.5, "EMEA", "Belgium", "Belgien", "Belgique", "32", (".be", ".com")),
    "IE": (1.5, "EMEA", "Ireland", "Irland", "Irlande", "353", (".ie", ".com", ".io")),
    "DK": (1.2, "EMEA", "Denmark", "Dänemark", "Danemark", "45", (".dk", ".com")),
    "NO": (1.0, "EMEA", "Norway", "Norwegen", "Norvège", "47", (".no", ".com")),
    "FI": (1.0, "EMEA", "Finland", "Finnland", "Finlande", "358", (".fi", ".com")),
    "PL": (1.2, "EMEA", "Poland", "Polen", "Pologne", "48", (".pl", ".com")),
    "PT": (0.8, "EMEA", "Portugal", "Portugal", "Portugal", "351", (".pt", ".com")),
    "IL": (0.8, "EMEA", "Israel", "Israel", "Israël", "972", (".co.il", ".com", ".io")),
    "AE": (0.6, "EMEA", "United Arab Emirates", "Vereinigte Arabische Emirate", "Émirats arabes unis", "971", (".ae", ".com")),
    "ZA": (0.6, "EMEA", "South Africa", "Südafrika", "Afrique du Sud", "27", (".co.za", ".com")),
    "SG": (1.2, "APAC", "Singapore", "Singapur", "Singapour", "65", (".sg", ".com", ".io")),
    "JP": (1.2, "APAC", "Japan", "Japan", "Japon", "81", (".jp", ".co.jp", ".com")),
    "NZ": (0.6, "APAC", "New Zealand", "Neuseeland", "Nouvelle-Zélande", "64", (".co.nz", ".com")),
    "KR": (0.6, "APAC", "South Korea", "Südkorea", "Corée du Sud", "82", (".co.kr", ".com")),
    "HK": (0.5, "APAC", "Hong Kong", "Hongkong", "Hong Kong", "852", (".hk", ".com")),
    "BR": (1.5, "LATAM", "Brazil", "Brasilien", "Brésil", "55", (".com.br", ".com")),
    "MX": (1.0, "LATAM", "Mexico", "Mexiko", "Mexique", "52", (".com.mx", ".mx", ".com")),
    "AR": (0.5, "LATAM", "Argentina", "Argentinien", "Argentine", "54", (".com.ar", ".com")),
    "CL": (0.4, "LATAM", "Chile", "Chile", "Chili", "56", (".cl", ".com")),
    "CO": (0.4, "LATAM", "Colombia", "Kolumbien", "Colombie", "57", (".com.co", ".co", ".com")),
}

# Phone number shapes per country: (national format, share). '#' is a random digit;
# the national prefix (0 for most of Europe) is written as part of the format and is
# dropped from E.164. See phones.py for how they are filled in.
PHONE_FORMATS: dict[str, tuple[tuple[str, str, float], ...]] = {
    # (national format, E.164 body template, share); the same digits fill both.
    "US": (("(AAA) ###-####", "AAA#######", 0.45), ("AAA-###-####", "AAA#######", 0.3), ("+1 AAA ### ####", "AAA#######", 0.25)),
    "CA": (("(AAA) ###-####", "AAA#######", 0.5), ("AAA-###-####", "AAA#######", 0.3), ("+1 AAA-###-####", "AAA#######", 0.2)),
    "GB": (("020 7### ####", "207#######", 0.35), ("07### ######", "7#########", 0.35), ("+44 20 7### ####", "207#######", 0.15),
           ("0161 ### ####", "161#######", 0.15)),
    "DE": (("030 ########", "30########", 0.3), ("089 #######", "89#######", 0.2), ("0151 ########", "151########", 0.25),
           ("+49 40 ########", "40########", 0.15), ("+49 (0)69 #######", "69#######", 0.1)),
    "FR": (("01 ## ## ## ##", "1########", 0.4), ("06 ## ## ## ##", "6########", 0.35), ("+33 1 ## ## ## ##", "1########", 0.25)),
    "NL": (("020 ### ####", "20#######", 0.4), ("06 2#######", "62#######", 0.35), ("+31 10 ### ####", "10#######", 0.25)),
    "AU": (("(02) 9### ####", "29#######", 0.4), ("04## ### ###", "4########", 0.35), ("+61 3 9### ####", "39#######", 0.25)),
    "IN": (("+91 9#### #####", "9#########", 0.5), ("09#### #####", "9#########", 0.2), ("022 #### ####", "22########", 0.3)),
    "ES": (("91# ## ## ##", "91#######", 0.5), ("6## ### ###", "6########", 0.3), ("+34 93# ### ###", "93#######", 0.2)),
    "IT": (("02 ########", "02########", 0.4), ("3## ### ####", "3#########", 0.4), ("+39 06 #######", "06#######", 0.2)),
    "SE": (("08-### ### ##", "8########", 0.5), ("07#-### ## ##", "7########", 0.5)),
    "CH": (("044 ### ## ##", "44#######", 0.5), ("+41 79 ### ## ##", "79#######", 0.5)),
    "AT": (("01 #######", "1#######", 0.5), ("+43 664 #######", "664#######", 0.5)),
    "BE": (("02 ### ## ##", "2#######", 0.5), ("04## ## ## ##", "4########", 0.5)),
    "IE": (("01 ### ####", "1#######", 0.5), ("08# ### ####", "8########", 0.5)),
    "DK": (("3# ## ## ##", "3#######", 0.5), ("2# ## ## ##", "2#######", 0.5)),
    "NO": (("22 ## ## ##", "22######", 0.5), ("9## ## ###", "9#######", 0.5)),
    "FI": (("09 #######", "9#######", 0.5), ("04# ### ####", "4########", 0.5)),
    "PL": (("22 ### ## ##", "22#######", 0.5), ("+48 5## ### ###", "5########", 0.5)),
    "BR": (("(11) 9####-####", "119########", 0.6), ("+55 21 ####-####", "21########", 0.4)),
    "MX": (("55 #### ####", "55########", 1.0),),
    "JP": (("03-####-####", "3########", 0.6), ("090-####-####", "90########", 0.4)),
    "SG": (("6### ####", "6#######", 0.5), ("9### ####", "9#######", 0.5)),
    "PT": (("21# ### ###", "21#######", 0.5), ("91# ### ###", "91#######", 0.5)),
    "IL": (("03-###-####", "3#######", 0.5), ("052-###-####", "52#######", 0.5)),
    "AE": (("04 ### ####", "4#######", 0.5), ("050 ### ####", "50#######", 0.5)),
    "HK": (("2### ####", "2#######", 0.5), ("9### ####", "9#######", 0.5)),
    "NZ": (("09 ### ####", "9#######", 0.6), ("021 ### ####", "21#######", 0.4)),
    "AR": (("011 4###-####", "114#######", 1.0),),
    "CO": (("601 ### ####", "601#######", 0.5), ("31# ### ####", "31########", 0.5)),
    "CL": (("2 2### ####", "22#######", 0.5), ("9 #### ####", "9########", 0.5)),
    "KR": (("02-####-####", "2########", 0.5), ("010-####-####", "10########", 0.5)),
    "ZA": (("021 ### ####", "21#######", 0.5), ("082 ### ####", "82#######", 0.5)),
}
# US/CA area codes that are in service (the A's above).
NANP_AREA_CODES = (
    "212", "213", "303", "305", "312", "404", "415", "425", "469", "503", "512", "602", "617", "646", "650",
    "702", "713", "718", "720", "773", "858", "917", "919", "949", "972", "416", "604", "514", "403", "613",
)

# --- jobs -----------------------------------------------------------------------

# (title, weight); seniority and department are the qualification area's to infer.
JOB_TITLES: tuple[tuple[str, float], ...] = (
    ("Chief Executive Officer", 1.0), ("CEO & Founder", 0.8), ("Co-Founder", 0.6), ("Chief Marketing Officer", 0.8),
    ("CMO", 0.5), ("Chief Technology Officer", 0.7), ("CTO", 0.5), ("Chief Revenue Officer", 0.5),
    ("Chief Financial Officer", 0.6), ("COO", 0.4), ("Chief Information Officer", 0.4), ("Managing Director", 0.8),
    ("Geschäftsführer", 0.6), ("Directeur Général", 0.3), ("President", 0.3), ("Owner", 0.5),
    ("VP Marketing", 1.0), ("VP of Sales", 1.0), ("VP Engineering", 0.8), ("Vice President, Demand Generation", 0.5),
    ("SVP Global Sales", 0.3), ("VP Customer Success", 0.4), ("VP Finance", 0.3), ("VP Operations", 0.4),
    ("Head of Marketing", 1.2), ("Head of Growth", 0.8), ("Head of Sales", 1.0), ("Head of Data", 0.5),
    ("Head of IT", 0.6), ("Leiter Marketing", 0.4), ("Responsable Marketing", 0.4), ("Head of Revenue Operations", 0.4),
    ("Director of Marketing", 1.2), ("Marketing Director", 0.8), ("Director, Demand Generation", 0.6),
    ("Sales Director", 0.8), ("Director of Engineering", 0.6), ("IT Director", 0.6), ("Director of Operations", 0.5),
    ("Director of Product Marketing", 0.4), ("Finance Director", 0.4), ("HR Director", 0.3),
    ("Marketing Manager", 2.5), ("Senior Marketing Manager", 1.2), ("Demand Generation Manager", 1.2),
    ("Marketing Operations Manager", 1.2), ("Product Marketing Manager", 1.0), ("Content Marketing Manager", 0.8),
    ("Digital Marketing Manager", 1.2), ("Campaign Manager", 0.8), ("Sales Manager", 1.5), ("Account Manager", 1.5),
    ("Key Account Manager", 0.8), ("Engineering Manager", 0.8), ("IT Manager", 1.0), ("Operations Manager", 1.0),
    ("Project Manager", 1.5), ("Product Manager", 1.2), ("Customer Success Manager", 1.0), ("HR Manager", 0.5),
    ("Marketingleiterin", 0.3), ("Chef de projet marketing", 0.3), ("Team Lead, Data Engineering", 0.5),
    ("Marketing Specialist", 1.5), ("Marketing Coordinator", 1.2), ("Marketing Automation Specialist", 0.8),
    ("SEO Specialist", 0.6), ("Growth Marketer", 0.6), ("Content Writer", 0.5), ("Sales Development Representative", 1.5),
    ("Business Development Representative", 1.0), ("Account Executive", 1.5), ("Software Engineer", 2.0),
    ("Senior Software Engineer", 1.5), ("Data Analyst", 1.2), ("Data Scientist", 0.8), ("Business Analyst", 1.0),
    ("Financial Analyst", 0.6), ("Accountant", 0.6), ("Consultant", 1.0), ("Senior Consultant", 0.6),
    ("Solutions Architect", 0.6), ("DevOps Engineer", 0.6), ("Systems Administrator", 0.5), ("Designer", 0.5),
    ("Office Manager", 0.4), ("Executive Assistant", 0.4), ("Recruiter", 0.4), ("Customer Support Specialist", 0.6),
    ("Sachbearbeiter", 0.3), ("Ingénieur commercial", 0.3), ("Referent Marketing", 0.3),
    ("Marketing Intern", 0.6), ("Sales Intern", 0.4), ("Werkstudent Marketing", 0.4), ("Student", 0.8),
    ("MBA Candidate", 0.3), ("PhD Student", 0.3), ("Graduate Student", 0.3), ("Stagiaire marketing", 0.2),
    ("Freelancer", 0.4), ("Retired", 0.1), ("", 0.6),
)

# --- companies ------------------------------------------------------------------

# Industry -> words that make a company sound like it is in that industry, and its weight.
INDUSTRIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "Software": (14.0, ("Software", "Labs", "Cloud", "Systems", "Apps", "Tech", "Digital", "Stack", "Works")),
    "IT Services": (8.0, ("IT", "Solutions", "Consulting", "Systems", "Networks", "Tech", "Services")),
    "Financial Services": (6.0, ("Capital", "Finance", "Partners", "Advisors", "Wealth", "Payments", "Credit")),
    "Insurance": (2.5, ("Insurance", "Assurance", "Mutual", "Underwriters")),
    "Healthcare": (5.0, ("Health", "Care", "Medical", "Clinics", "Diagnostics", "Therapeutics")),
    "Pharmaceuticals": (2.0, ("Pharma", "Bio", "Biosciences", "Therapeutics", "Labs")),
    "Manufacturing": (8.0, ("Manufacturing", "Industries", "Werke", "Components", "Engineering", "Fabrication", "Tools")),
    "Automotive": (2.5, ("Automotive", "Motors", "Mobility", "Parts")),
    "Logistics": (4.0, ("Logistics", "Freight", "Transport", "Shipping", "Cargo", "Supply")),
    "Retail": (4.0, ("Retail", "Stores", "Market", "Goods", "Outfitters")),
    "E-commerce": (3.5, ("Shop", "Commerce", "Direct", "Online", "Cart")),
    "Telecommunications": (2.0, ("Telecom", "Communications", "Networks", "Connect", "Mobile")),
    "Energy": (2.5, ("Energy", "Power", "Solar", "Renewables", "Utilities", "Grid")),
    "Education": (3.0, ("Learning", "Academy", "Education", "Institute", "School")),
    "Media & Publishing": (2.5, ("Media", "Publishing", "Press", "Studios", "News")),
    "Marketing & Advertising": (4.0, ("Marketing", "Agency", "Creative", "Media", "Brands", "Growth")),
    "Consulting": (5.0, ("Consulting", "Advisory", "Partners", "Group", "Associates")),
    "Real Estate": (2.0, ("Properties", "Realty", "Estates", "Homes", "Living")),
    "Construction": (2.5, ("Construction", "Builders", "Bau", "Infrastructure", "Contracting")),
    "Hospitality": (1.5, ("Hotels", "Hospitality", "Resorts", "Travel")),
    "Legal Services": (1.0, ("Legal", "Law", "Rechtsanwälte", "Avocats")),
    "Food & Beverage": (2.0, ("Foods", "Beverages", "Brewing", "Kitchen", "Farms")),
    "Chemicals": (1.0, ("Chemicals", "Chemie", "Materials", "Polymers")),
    "Aerospace & Defense": (0.8, ("Aerospace", "Aviation", "Defense", "Avionics")),
    "Non-profit": (1.0, ("Foundation", "Trust", "Alliance", "Initiative")),
    "Government": (0.8, ("Agency", "Authority", "Council", "Office")),
    "Agriculture": (1.0, ("Agri", "Farms", "Harvest", "Seeds")),
}

# First halves of company names: invented, place-like or plain words, as real brands are.
NAME_STEMS: tuple[str, ...] = (
    "Northwind", "Acme", "Brightlane", "Bluepeak", "Silverline", "Ironbridge", "Greenfield", "Redwood", "Blackstone",
    "Clearwater", "Highgate", "Lakeside", "Riverbend", "Stonebridge", "Westbrook", "Eastgate", "Southport", "Northstar",
    "Evergreen", "Summit", "Pinnacle", "Horizon", "Meridian", "Vertex", "Apex", "Zenith", "Keystone", "Cornerstone",
    "Lighthouse", "Harbor", "Anchor", "Compass", "Atlas", "Orion", "Polaris", "Vega", "Nova", "Aurora", "Helios",
    "Quantum", "Fusion", "Vector", "Signal", "Beacon", "Catalyst", "Momentum", "Velocity", "Kinetic", "Nimbus",
    "Cobalt", "Copper", "Granite", "Marble", "Slate", "Amber", "Indigo", "Crimson", "Sapphire", "Emerald", "Onyx",
    "Falcon", "Eagle", "Hawk", "Raven", "Fox", "Wolf", "Bear", "Lynx", "Otter", "Heron", "Kestrel", "Osprey",
    "Oakridge", "Maplewood", "Birchwood", "Cedar", "Willow", "Aspen", "Juniper", "Sequoia", "Elm", "Alder",
    "Tidewater", "Seabright", "Sunrise", "Moonstone", "Starling", "Skyline", "Cloudberry", "Brookfield", "Fairview",
    "Grandview", "Hillcrest", "Kingsway", "Queensbury", "Regent", "Sterling", "Royal", "Crown", "Union", "Liberty",
    "Pioneer", "Frontier", "Heritage", "Legacy", "Landmark", "Milestone", "Paragon", "Prime", "Premier", "Allied",
    "United", "Global", "Continental", "Trans", "Inter", "Omni", "Pan", "Uni", "Metro", "Urban", "Rural", "Alpine",
    "Nordic", "Baltic", "Atlantic", "Pacific", "Rhein", "Elbe", "Isar", "Spree", "Main", "Loire", "Seine", "Rhône",
    "Alster", "Havel", "Zugspitze", "Brocken", "Taunus", "Harz", "Eifel", "Schwarzwald", "Bodensee", "Lindau",
    "Bergmann", "Sonnenberg", "Lichtblick", "Weitblick", "Morgenrot", "Blauwal", "Feldmann", "Kranich", "Falke",
    "Étoile", "Lumière", "Horizon", "Azur", "Mistral", "Provence", "Bretagne", "Alpes", "Vauban", "Colbert",
    "Oranje", "Delta", "Polder", "Tulip", "Windmolen", "Amstel", "Maas", "Zeeland", "Utrecht", "Linde",
    "Sakura", "Fuji", "Lotus", "Jade", "Bamboo", "Tiger", "Dragon", "Phoenix", "Ganges", "Indus", "Himalaya",
    "Kauri", "Tasman", "Coral", "Outback", "Eucalypt", "Banksia", "Wattle", "Kookaburra", "Maple", "Boreal",
    "Andes", "Pampa", "Amazonia", "Sierra", "Sol", "Luna", "Mar", "Costa", "Terra", "Vista", "Nexo", "Rumbo",
    "Bright", "Swift", "Clever", "Smart", "True", "Pure", "Bold", "Clear", "Open", "Deep", "Next", "First", "Blue",
    "Green", "Red", "Gold", "Silver", "Iron", "Steel", "Stone", "Wood", "Wave", "Spark", "Flux", "Pulse", "Loop",
    "Hive", "Nest", "Forge", "Mill", "Yard", "Field", "Path", "Bridge", "Gate", "Tower", "Peak", "Ridge", "Vale",
)
LEGAL_SUFFIX: dict[str, tuple[str, ...]] = {
    "US": ("Inc.", "LLC", "Corp.", "", ""), "CA": ("Inc.", "Ltd.", ""), "GB": ("Ltd", "Limited", "plc", ""),
    "IE": ("Ltd", "DAC", ""), "DE": ("GmbH", "AG", "GmbH & Co. KG", "SE"), "AT": ("GmbH", "AG"),
    "CH": ("AG", "GmbH", "SA"), "FR": ("SAS", "SA", "SARL"), "BE": ("SA", "NV", "BV"), "NL": ("B.V.", "N.V."),
    "ES": ("S.L.", "S.A."), "IT": ("S.r.l.", "S.p.A."), "PT": ("Lda.", "S.A."), "SE": ("AB",), "DK": ("A/S", "ApS"),
    "NO": ("AS", "ASA"), "FI": ("Oy", "Oyj"), "PL": ("Sp. z o.o.", "S.A."), "AU": ("Pty Ltd", ""),
    "NZ": ("Limited", ""), "IN": ("Pvt Ltd", "Private Limited", "Ltd"), "JP": ("K.K.", "Co., Ltd."),
    "KR": ("Co., Ltd.",), "SG": ("Pte Ltd",), "HK": ("Limited",), "BR": ("Ltda.", "S.A."), "MX": ("S.A. de C.V.",),
    "AR": ("S.A.", "S.R.L."), "CL": ("SpA", "S.A."), "CO": ("S.A.S.",), "IL": ("Ltd.",), "AE": ("LLC", "FZ-LLC"),
    "ZA": ("(Pty) Ltd",),
}
EMPLOYEE_BANDS: tuple[tuple[str, float], ...] = (
    ("1-10", 0.18), ("11-50", 0.26), ("51-200", 0.24), ("201-500", 0.13), ("501-1000", 0.08), ("1001-5000", 0.07), ("5001+", 0.04),
)
# How many of the generated people work at a company of each band, relative to one of "1-10".
EMPLOYEE_BAND_PEOPLE_WEIGHT = {"1-10": 1.0, "11-50": 2.0, "51-200": 4.0, "201-500": 7.0, "501-1000": 10.0, "1001-5000": 16.0, "5001+": 25.0}
# Revenue band index offsets from the employee band (same index = typical).
REVENUE_BANDS: tuple[str, ...] = ("<$1M", "$1M-$10M", "$10M-$50M", "$50M-$100M", "$100M-$500M", "$500M-$1B", "$1B+")

# Fictional rivals of funnelflow's (imaginary) vendor; scoring marks their people down.
COMPETITORS: tuple[tuple[str, str, str], ...] = (
    ("funnelforge.io", "FunnelForge", "US"), ("leadloom.com", "LeadLoom Inc.", "US"),
    ("pipelinely.com", "Pipelinely", "US"), ("nurturio.de", "Nurturio GmbH", "DE"),
    ("campaignhive.co.uk", "CampaignHive Ltd", "GB"), ("mqlmachine.com", "MQL Machine", "CA"),
    ("automatix-marketing.fr", "Automatix Marketing SAS", "FR"), ("growthgrid.io", "GrowthGrid", "NL"),
)

# --- addresses ------------------------------------------------------------------

FREE_MAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.55), ("yahoo.com", 0.1), ("outlook.com", 0.1), ("hotmail.com", 0.07), ("gmx.de", 0.06),
    ("web.de", 0.05), ("icloud.com", 0.04), ("orange.fr", 0.03),
)
DISPOSABLE_DOMAINS: tuple[str, ...] = (
    "mailinator.com", "10minutemail.com", "guerrillamail.com", "trashmail.com", "yopmail.com", "tempmail.net",
    "sharklasers.com", "throwawaymail.com",
)
ROLE_LOCAL_PARTS: tuple[str, ...] = ("info", "sales", "marketing", "contact", "admin", "office", "hello", "support", "noreply")

# --- campaigns ------------------------------------------------------------------

# utm_source -> (utm_medium choices, weight)
UTM_SOURCES: dict[str, tuple[tuple[str, ...], float]] = {
    "google": (("cpc", "organic"), 0.32),
    "linkedin": (("social", "cpc", "paid_social"), 0.22),
    "newsletter": (("email",), 0.14),
    "facebook": (("social", "paid_social"), 0.06),
    "bing": (("cpc", "organic"), 0.04),
    "twitter": (("social",), 0.03),
    "g2": (("referral",), 0.04),
    "capterra": (("referral", "cpc"), 0.03),
    "partner": (("referral",), 0.04),
    "youtube": (("video", "social"), 0.03),
    "direct": (("none",), 0.05),
}
UTM_CAMPAIGNS: tuple[str, ...] = (
    "q4-2026-pipeline-push", "brand-search-emea", "brand-search-na", "competitor-conquest", "webinar-attribution-101",
    "ebook-state-of-b2b-marketing", "demo-request-retargeting", "black-friday-2026", "spring-launch-2026",
    "newsletter-weekly", "newsletter-monthly-digest", "abm-enterprise-dach", "free-trial-q3", "roi-calculator",
    "customer-stories", "webinar-lead-scoring", "tradeshow-dmexco-2026", "saastr-europa-2026", "product-hunt-launch",
)
UTM_TERMS: tuple[str, ...] = (
    "marketing automation", "lead scoring software", "b2b lead management", "email nurture tool", "crm integration",
    "funnel analytics", "hubspot alternative", "marketing ops", "", "", "",
)
UTM_CONTENTS: tuple[str, ...] = ("banner-a", "banner-b", "text-ad-1", "carousel", "cta-top", "cta-footer", "video-15s", "", "", "")
SITE = "https://www.example.com"
FORM_PAGES: tuple[tuple[str, float], ...] = (
    ("/demo", 0.2), ("/pricing", 0.15), ("/contact", 0.15), ("/whitepaper", 0.15), ("/ebook/state-of-b2b-marketing", 0.1),
    ("/free-trial", 0.1), ("/newsletter", 0.1), ("/webinars/lead-scoring", 0.05),
)
VIEW_PAGES: tuple[tuple[str, float], ...] = (
    ("/", 0.2), ("/pricing", 0.12), ("/demo", 0.06), ("/product", 0.12), ("/product/lead-scoring", 0.06),
    ("/product/email", 0.06), ("/customers", 0.06), ("/blog/how-to-score-leads", 0.1), ("/blog/b2b-email-benchmarks", 0.08),
    ("/careers", 0.04), ("/docs/getting-started", 0.05), ("/integrations/salesforce", 0.05),
)
LEAD_SOURCES: tuple[str, ...] = (
    "Organic Search", "Paid Search", "Paid Social", "Email Marketing", "Referrals", "Direct Traffic", "Offline Sources",
    "Trade Show", "Webinar", "Partner", "Purchased List",
)
