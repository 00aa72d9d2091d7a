"""Synthetic twin of Kaggle "California House Prices" (d2l, 2021; redfin/zillow scrape).

Follows docs/california-schema.md: the 41 columns in file order, missing rates per column (train and
test), dates "YYYY-MM-DD", floats as pandas writes float64 ("1969.0", "20908.8"), Zip as integer text,
", "-separated list columns with varying order and casing, literal "None" strings (Cooling, Cooling
features, Laundry features, Parking, Parking features), Bedrooms as digits or room-feature text,
impossible values, AZ rows, duplicated houses, and the Summary leak phrase whose dollar amount equals
Sold Price in ~11% of train rows. A higher Id is a later sale; prices drift up mildly over Ids.

Vocabularies (cities, zips, schools) are built once from a fixed seed, so every seed shares them;
only the rows depend on `seed`. Everything is vectorized: the full 47,439 + 31,626 rows take seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from competition.competitions.california import RAW_COLUMNS as CALIFORNIA_COLUMNS
from competition.synthetic.files import write_files

COLUMNS: tuple[str, ...] = tuple(CALIFORNIA_COLUMNS)
"""The real train.csv header, in order (from the competition spec: one source of truth)."""
TEST_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c != "Sold Price")
FLOAT_COLUMNS: frozenset[str] = frozenset(c for c, kind in CALIFORNIA_COLUMNS.items() if kind == "float")
"""The 18 float64 columns of the real file (written with a decimal point, e.g. "1969.0")."""

MIN_PRICE = 100_500.0
MAX_PRICE = 90_000_000.0
LEAK_RATE = 5413 / 47439
"""Share of train rows whose Summary states the sale price (schema doc: TA-py counted 5,413)."""

_VOCAB_SEED = 20210319
_SALE_START = np.datetime64("2020-01-02")
_SALE_DAYS = 362
_MONTHS = np.array(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
     "December"],
    dtype=object,
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Places. (city, relative weight, log-price effect); the three big ones carry ~49% of the rows.
_TOP_CITIES: tuple[tuple[str, float, float], ...] = (
    ("Los Angeles", 0.239, 0.0),
    ("San Jose", 0.135, 0.12),
    ("San Francisco", 0.117, 0.3),
)
# Named cities in rough frequency order with their log-price effect.
_NAMED_CITIES: tuple[tuple[str, float], ...] = (
    ("San Mateo", 0.45), ("Santa Cruz", 0.15), ("Sunnyvale", 0.45), ("Mountain View", 0.6), ("Fremont", 0.25),
    ("Santa Clara", 0.3), ("Palo Alto", 0.95), ("Cupertino", 0.75), ("Redwood City", 0.45), ("Milpitas", 0.2),
    ("Campbell", 0.35), ("Los Gatos", 0.75), ("Saratoga", 0.95), ("Los Altos", 1.0), ("Morgan Hill", 0.05),
    ("Gilroy", -0.1), ("Pasadena", 0.1), ("Glendale", 0.0), ("Burbank", 0.0), ("Long Beach", -0.2),
    ("Santa Monica", 0.55), ("Torrance", 0.05), ("Culver City", 0.25), ("Inglewood", -0.3), ("Downey", -0.2),
    ("Whittier", -0.25), ("Pomona", -0.45), ("Lancaster", -0.75), ("Palmdale", -0.75), ("Santa Clarita", -0.25),
    ("Daly City", 0.15), ("South San Francisco", 0.15), ("San Bruno", 0.15), ("Burlingame", 0.6),
    ("Menlo Park", 0.85), ("Atherton", 1.35), ("Half Moon Bay", 0.35), ("Pacifica", 0.1), ("Foster City", 0.4),
    ("Belmont", 0.5), ("San Carlos", 0.5), ("Watsonville", -0.35), ("Scotts Valley", 0.1), ("Capitola", 0.15),
    ("Aptos", 0.2), ("Hollister", -0.3), ("Oakland", -0.05), ("Berkeley", 0.25), ("Hayward", -0.1),
    ("Alameda", 0.15), ("San Leandro", -0.1), ("Pleasanton", 0.35), ("Livermore", 0.05), ("Dublin", 0.2),
    ("Walnut Creek", 0.2), ("Danville", 0.5), ("Concord", -0.15), ("Richmond", -0.3), ("Vallejo", -0.55),
    ("Beverly Hills", 1.2), ("Malibu", 1.2), ("Manhattan Beach", 1.0), ("Redondo Beach", 0.4),
    ("Hermosa Beach", 0.75), ("Palos Verdes Estates", 0.85), ("Rancho Palos Verdes", 0.6), ("Calabasas", 0.6),
    ("West Covina", -0.25), ("El Monte", -0.35), ("Alhambra", -0.1), ("Arcadia", 0.35), ("Temple City", 0.05),
    ("Rosemead", -0.2), ("Compton", -0.6), ("Lakewood", -0.2), ("Cerritos", 0.0), ("Norwalk", -0.3),
    ("Bellflower", -0.35), ("Carson", -0.3), ("Gardena", -0.25), ("Hawthorne", -0.2), ("South Gate", -0.45),
    ("Montebello", -0.3), ("Monterey Park", -0.05), ("San Gabriel", 0.05), ("Sierra Madre", 0.3),
    ("Monrovia", -0.05), ("Glendora", -0.15), ("Covina", -0.25), ("Claremont", 0.0), ("Diamond Bar", 0.0),
    ("Elk Grove", -0.6), ("Sacramento", -0.75), ("Los Alamitos", 0.05), ("Irvine", 0.35), ("Anaheim", -0.15),
    ("Santa Ana", -0.25), ("Huntington Beach", 0.2), ("Newport Beach", 0.85), ("San Diego", 0.0),
    ("Salinas", -0.5), ("Monterey", 0.1), ("Fresno", -0.9), ("Bakersfield", -0.95), ("Riverside", -0.55),
    ("Stockton", -0.75), ("Modesto", -0.8), ("Santa Rosa", -0.2), ("Napa", 0.0), ("Thousand Oaks", 0.15),
    ("Simi Valley", -0.1), ("Oxnard", -0.3), ("Ventura", -0.1), ("Blythe", -1.5), ("Creston", -0.2),
    ("Strawberry", -1.0), ("Calipatria", -1.6), ("Dodgertown", -0.1), ("California Hot Springs", -1.2),
    ("Boulder Creek", -0.25), ("Felton", -0.2), ("Ben Lomond", -0.25), ("Soquel", 0.1), ("Los Banos", -0.9),
    ("Tracy", -0.45), ("Manteca", -0.65), ("Lodi", -0.75), ("Merced", -1.0), ("Visalia", -1.0),
    ("Porterville", -1.15), ("Hemet", -0.9), ("Victorville", -1.0), ("Hesperia", -1.0), ("Barstow", -1.4),
    ("Twentynine Palms", -1.4), ("Palm Springs", -0.3), ("Indio", -0.7), ("El Centro", -1.1), ("Brawley", -1.2),
    ("Niland", -1.7), ("Needles", -1.5), ("Ridgecrest", -1.1), ("Tehachapi", -0.9), ("Paso Robles", -0.3),
    ("Atascadero", -0.35), ("San Luis Obispo", 0.05), ("Arroyo Grande", 0.0), ("Lompoc", -0.5),
    ("Santa Maria", -0.55), ("Santa Barbara", 0.55), ("Carmel-by-the-Sea", 0.8), ("Pacific Grove", 0.3),
)  # fmt: skip
# Los Angeles neighborhoods used as Region while City stays "Los Angeles" (and the reverse).
_LA_REGIONS: tuple[str, ...] = (
    "West Hollywood", "Sherman Oaks", "Van Nuys", "North Hollywood", "Studio City", "Encino", "Woodland Hills",
    "Tarzana", "Reseda", "Northridge", "Granada Hills", "Chatsworth", "Canoga Park", "Winnetka", "Sun Valley",
    "Sylmar", "Pacoima", "San Pedro", "Wilmington", "Venice", "Playa Vista", "Westchester", "Eagle Rock",
    "Highland Park", "Silver Lake", "Echo Park", "Hollywood", "Los Feliz", "Brentwood", "Bel Air",
    "Pacific Palisades", "Toluca Lake", "Valley Village", "Harbor City", "Mar Vista",
)  # fmt: skip
_TOWN_FIRST = (
    "Oak", "Pine", "Cedar", "Willow", "Maple", "Sycamore", "Cypress", "Redwood", "Eagle", "Hawk", "Deer", "Bear",
    "Coyote", "Quail", "Sunny", "Golden", "Silver", "Crystal", "Shadow", "Rolling", "Green", "Clear", "Rocky",
    "Sandy", "Hidden", "Twin", "Vista", "Mesa", "Sierra", "Alta", "Bella", "Bonita", "Rio", "Arroyo", "Canyon",
    "Laguna", "Del Rey", "Buena", "Mission", "Rancho",
)  # fmt: skip
_TOWN_SECOND = (
    "Valley", "Springs", "Hills", "Creek", "Ridge", "Grove", "Park", "Heights", "Flat", "Lake", "Point", "Meadows",
    "City", "Beach", "Vista", "Acres", "Gardens", "Glen", "Landing", "Crossing",
)  # fmt: skip
# Arizona rows (State "AZ"): (city, first zip, number of zips). Zips stay in 856xx-857xx.
_AZ_CITIES: tuple[tuple[str, int, int], ...] = (
    ("Tucson", 85701, 40), ("Sierra Vista", 85635, 1), ("Green Valley", 85614, 1), ("Nogales", 85621, 1),
    ("Elgin", 85611, 1), ("Sahuarita", 85629, 1), ("Vail", 85641, 1), ("Rio Rico", 85648, 1),
    ("Oro Valley", 85737, 1), ("Marana", 85653, 1),
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Property types: (label, weight %, group). Groups drive sizes, price level and missingness.
_TYPES: tuple[tuple[str, float, str], ...] = (
    ("SingleFamily", 64.79, "house"), ("Condo", 18.22, "condo"), ("Townhouse", 5.35, "condo"),
    ("Unknown", 3.82, "house"), ("MultiFamily", 2.61, "multi"), ("MobileManufactured", 1.35, "mobile"),
    ("VacantLand", 1.2, "land"), ("Single Family", 0.45, "house"), ("Apartment", 0.35, "condo"),
    ("Cooperative", 0.25, "condo"), ("Residential Lot", 0.2, "land"),
)  # fmt: skip
_TYPE_TAIL_BASE = (
    ("Single Family Residence", "house"), ("Residential", "house"), ("Duplex", "multi"), ("Triplex", "multi"),
    ("Quadruplex", "multi"), ("Residential Income", "multi"), ("Mobile / Manufactured", "mobile"),
    ("Manufactured Home", "mobile"), ("Lot/Land", "land"), ("Land", "land"), ("Condominium", "condo"),
    ("Stock Cooperative", "condo"), ("Townhome", "condo"), ("Loft", "condo"), ("Ranch", "house"),
)  # fmt: skip
_TYPE_TAIL_STYLE = (
    "Contemporary", "Craftsman", "Traditional", "Spanish", "Mediterranean", "Mid-Century", "Modern", "Ranch",
    "Victorian", "Cape Cod", "Colonial", "Tudor", "Bungalow", "Cottage", "Cabin", "Custom Built", "Farm House",
    "Tuscan", "Cape Cod/Cottage", "See Remarks",
)  # fmt: skip
_GROUP_PRICE = {"house": 0.0, "condo": -0.3, "multi": 0.15, "mobile": -1.35, "land": 0.0}
_GROUP_AREA = {"house": 0.0, "condo": -0.38, "multi": 0.45, "mobile": -0.3, "land": 0.0}
_GROUP_KIND = {
    "house": "single family", "condo": "condo", "multi": "multi family", "mobile": "mobile / manufactured",
    "land": "lot/land",
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Multi-valued text columns. Pairs are (column value, companion "features" value, weight).
_HEATING: tuple[tuple[str, str, float], ...] = (
    ("Central", "Central", 21), ("Central Forced Air", "Forced air", 11),
    ("Central Forced Air - Gas", "Forced air, Gas", 7.1), ("Forced Air", "Forced Air", 5.5),
    ("Wall Furnace", "Wall Furnace", 2.5), ("Other", "Other", 2.2), ("Forced air, Gas", "Forced air, Gas", 2.0),
    ("Forced air", "Forced air", 2.0), ("Central, Gas", "Central, Gas", 1.5), ("Gas", "Gas", 1.2),
    ("Heating - 2+ Zones, Central Forced Air - Gas", "Forced air, Gas", 1.0), ("Combination", "Combination", 0.8),
    ("Central Forced Air, Gas", "Forced air, Gas", 0.8), ("Propane, Forced Air", "Forced air, Propane", 0.5),
    ("Fireplace", "Fireplace(s)", 0.5), ("Fireplace, Central Forced Air", "Forced air, Fireplace(s)", 0.5),
    ("Radiant", "Radiant", 0.8), ("Wall", "Wall", 0.6), ("Forced air, Electric", "Forced air, Electric", 1.5),
    ("Electric", "Electric", 0.6), ("Heat Pump", "Heat pump", 0.5), ("Baseboard", "Baseboard", 0.3),
    ("See Remarks", "Other", 0.3),
)  # fmt: skip
_HEATING_ITEMS = (
    "Central", "Forced Air", "Gas", "Electric", "Propane", "Fireplace(s)", "Wall Furnace", "Radiant", "Heat Pump",
    "Baseboard", "Zoned", "Natural Gas", "Solar", "Floor Furnace", "Ductless", "Wood Stove", "Pellet Stove",
    "ENERGY STAR Qualified Equipment", "Humidity Control", "Heating - 2+ Zones",
)  # fmt: skip
_COOLING: tuple[tuple[str, str, float], ...] = (
    ("Central Air", "Central Air", 34), ("Central AC", "Central", 22), ("Central", "Central", 9),
    ("Ceiling Fan", "Ceiling Fan(s)", 4), ("Ceiling Fan, Central AC", "Central, Ceiling Fan(s)", 3),
    ("Other", "Other", 2.5), ("Wall/Window Unit(s)", "Wall/Window Unit(s)", 2.5),
    ("Multi-Zone, Central AC", "Central, Zoned", 2), ("Window / Wall Unit", "Wall", 1.5),
    ("See Remarks", "See Remarks", 1.2), ("Multi-Zone, Central AC, Whole House / Attic Fan", "Central", 0.8),
    ("Wall/Window Unit(s), Evaporative Cooling, See Remarks",
     "Wall/Window Unit(s), Evaporative Cooling, See Remarks", 0.3),
    ("Evaporative Cooling", "Evaporative", 1.2), ("Central Air, Electric", "Central Air, Electric", 1.0),
    ("Central, Solar", "Central, Solar", 0.8), ("Central, Other", "Central, Other", 0.6),
    ("Ductless", "Ductless", 0.4), ("Heat Pump", "Heat Pump", 0.5),
)  # fmt: skip
_COOLING_ITEMS = (
    "Central Air", "Central", "Ceiling Fan(s)", "Electric", "Evaporative Cooling", "Wall/Window Unit(s)", "Zoned",
    "Whole House Fan", "Attic Fan", "Heat Pump", "Ductless", "Gas", "Solar", "ENERGY STAR Qualified Equipment",
    "See Remarks", "Other",
)  # fmt: skip
_PARKING: Mapping[str, float] = {
    "Garage, Garage - Attached, Covered": 22, "Garage": 5.6, "Garage, Garage - Attached": 5.3,
    "Garage - Attached": 4.3, "Garage - Attached, Covered": 3.5, "Carport": 2.5, "Covered": 2.3, "Driveway": 2.0,
    "Garage, Garage - Detached, Covered": 2.0, "Garage - Two Door": 1.5, "Detached Carport, Garage": 0.6,
    "Detached Carport, Driveway, Garage - Two Door": 0.4, "Carport, Covered": 1.0,
    "Garage, Carport, Garage - Attached, Covered": 0.8, "Underground/Basement, Garage - Attached": 0.6,
    "On-street": 0.8,
}  # fmt: skip
_PARKING_ITEMS = (
    "Garage", "Garage - Attached", "Garage - Detached", "Covered", "Carport", "Detached Carport", "Driveway",
    "Garage - Two Door", "Garage Door Opener", "On-street", "Off-street", "Underground/Basement", "Tandem",
    "RV Access/Parking", "Assigned", "Uncovered", "Guest", "Gated", "Private", "Direct Access", "Side by Side",
    "Electric Vehicle Charging Station(s)", "Community Structure", "Parking Space",
)  # fmt: skip
_LAUNDRY: Mapping[str, float] = {
    "Inside": 3514, "In Garage": 2953, "Laundry Closet": 1662, "Laundry Room": 1467, "Washer / Dryer, Inside": 900,
    "Washer / Dryer": 800, "Inside Room": 700, "In Unit": 650, "In Garage, Washer / Dryer": 500, "Community": 450,
    "Washer / Dryer, Inside, In Utility Room": 200, "Stackable, Upper Level": 150, "Hookups Only": 150,
    "See Remarks": 200, "In Utility Room": 250,
}  # fmt: skip
_LAUNDRY_ITEMS = (
    "Inside", "In Garage", "Laundry Closet", "Laundry Room", "Washer / Dryer", "Inside Room", "In Unit",
    "Community", "In Utility Room", "Stackable", "Upper Level", "Hookups Only", "Individual Room",
    "Gas & Electric Dryer Hookup", "Electric Dryer Hookup", "Gas Dryer Hookup", "Dryer Included",
    "Washer Included", "In Kitchen", "Common Area", "Outside", "Upper Floor",
)  # fmt: skip
_APPLIANCES_TOP: Mapping[str, float] = {
    "Dishwasher, Dryer, Garbage disposal, Microwave, Range / Oven, Refrigerator, Washer": 1673,
    "Dishwasher, Dryer, Freezer, Garbage disposal, Microwave, Range / Oven, Refrigerator, Washer": 1174,
    "Dryer, Washer": 1091, "Dishwasher": 793,
    "Dishwasher, Garbage disposal, Microwave, Range / Oven, Refrigerator": 700,
    "Range / Oven": 500, "Dishwasher, Range / Oven": 450, "Dishwasher, Disposal, Refrigerator, Washer, Dryer": 150,
    "Built-In": 200, "Freezer, Range / Oven, Refrigerator": 200, "Dishwasher, Garbage disposal, Microwave": 300,
}  # fmt: skip
_APPLIANCES_ZILLOW = (
    "Dishwasher", "Dryer", "Freezer", "Garbage disposal", "Microwave", "Range / Oven", "Refrigerator", "Washer",
    "Trash compactor",
)  # fmt: skip
_APPLIANCES_AGENT = (
    "Dishwasher", "Disposal", "Refrigerator", "Washer", "Dryer", "Built-In", "Gas Range", "Electric Range",
    "Range Hood", "Oven", "Gas Oven", "Self Cleaning Oven", "Water Heater", "Ice Maker", "Barbecue",
    "Water Softener", "Free-Standing Range", "Convection Oven", "Double Oven", "Vented Exhaust Fan",
    "Gas Water Heater", "ENERGY STAR Qualified Appliances", "Microwave",
)  # fmt: skip
_FLOORING_TOP: Mapping[str, float] = {
    "Wood": 3939, "Hardwood": 2082, "Tile, Wood": 1661, "Laminate": 1577, "Tile, Hardwood": 900,
    "Tile, Hardwood, Carpet": 700, "Wood, Tile": 650, "Carpet, Wood": 600, "Tile, Laminate": 550,
    "Tile, Carpet": 550, "Carpet, Tile": 400, "Carpet, Laminate": 350, "Carpet, Laminate, Tile": 200,
    "Laminate, Carpet": 200, "Carpet": 900, "Tile": 800, "Vinyl": 400,
}  # fmt: skip
_FLOORING_ITEMS = (
    "Tile", "Wood", "Hardwood", "Laminate", "Carpet", "Vinyl", "Linoleum", "Stone", "Concrete", "Bamboo", "Marble",
    "Slate", "Cork", "Engineered Wood", "Simulated Wood", "Wall-to-Wall Carpet", "Terrazzo", "Brick", "Mixed",
    "Other",
)  # fmt: skip
_BEDROOM_TEXT: Mapping[str, float] = {
    "Walk-in Closet": 935, "Master Suite / Retreat, Walk-in Closet": 718, "Master Suite / Retreat": 690,
    "Ground Floor Bedroom": 494, "Ground Floor Bedroom, Master Bedroom on Ground Floor": 300,
    "Master Bedroom on Ground Floor": 260, "More than One Bedroom on Ground Floor": 160,
    "Ground Floor Bedroom, Walk-in Closet": 200, "Walk-in Closet, Master Suite / Retreat": 110,
    "Ground Floor Bedroom, Master Suite / Retreat, Walk-in Closet": 150, "Reverse Floor Plan": 40,
}  # fmt: skip
_BEDROOM_ITEMS = (
    "Walk-in Closet", "Master Suite / Retreat", "Ground Floor Bedroom", "Master Bedroom on Ground Floor",
    "More than One Bedroom on Ground Floor", "Reverse Floor Plan", "Dressing Area", "Sitting Room",
    "Main Floor Bedroom", "Main Floor Master Bedroom", "Master Suite / Retreat - 2+", "Jack & Jill",
    "Loft Bedroom", "Guest Suite",
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Addresses and schools.
_STREETS = (
    "Pine", "Oak", "Main", "Fulton", "Delancey", "Tasman", "Braddock", "Orange Grove", "Florence", "Howard",
    "Fan Shell", "Rabbit Foot", "Dennison", "Villa", "Acacia", "Wilkins", "Broadway", "Sunset", "Mission", "Valencia",
    "Alvarado", "Figueroa", "Vermont", "Western", "Normandie", "Hoover", "Lincoln", "Washington", "Jefferson",
    "Madison", "Monroe", "Adams", "Jackson", "Grant", "Sherman", "Sheridan", "Stevens Creek", "El Camino",
    "Blossom Hill", "Almaden", "Camden", "Meridian", "Bascom", "Winchester", "Saratoga", "Homestead", "Wolfe",
    "Lawrence", "Mathilda", "Fair Oaks", "Castro", "Shoreline", "Rengstorff", "Middlefield", "Alma", "University",
    "Hamilton", "Embarcadero", "Page Mill", "Arastradero", "Foothill", "Magnolia", "Cherry", "Walnut", "Chestnut",
    "Laurel", "Sycamore", "Elm", "Birch", "Cedar", "Willow", "Poplar", "Hillcrest", "Ridgeview", "Lakeview",
    "Ocean View", "Sea Breeze", "Harbor", "Bay", "Marina", "Crescent", "Paseo Del Mar", "Camino Real",
    "Via Del Rey", "La Cienega", "Wilshire", "Olympic", "Pico", "Venice", "Sepulveda", "Ventura", "Victory",
    "Roscoe", "Sherman Way", "Saticoy", "Vanowen", "Reseda", "Tampa", "Balboa", "White Oak", "Topanga Canyon",
    "Mulholland", "Laurel Canyon", "Coldwater Canyon", "Beverly Glen", "Benedict Canyon", "Los Feliz",
    "Hyperion", "Griffith Park", "Colorado", "Fair", "Lake", "Glenoaks", "Verdugo", "Foothill", "Cypress",
    "Quail Run", "Deer Trail", "Eagle Ridge", "Hawk View", "Coyote Creek", "Canyon Oak",
)  # fmt: skip
_STREET_SUFFIX: Mapping[str, float] = {
    "St": 24, "Ave": 22, "Dr": 16, "Ln": 7, "Rd": 7, "Ct": 7, "Way": 6, "Blvd": 4, "Pl": 3, "Cir": 2, "Ter": 1,
    "Trl": 0.6, "Loop": 0.4,
}  # fmt: skip
_SURNAMES = (
    "Lincoln", "Washington", "Jefferson", "Roosevelt", "Kennedy", "Muir", "Farragut", "Hawkins", "Peterson",
    "Castello", "Johnson", "Franklin", "Madison", "Monroe", "Adams", "Garfield", "Grant", "Hoover", "Wilson", "Taft",
    "Edison", "Einstein", "Marshall", "Carver", "King", "Chavez", "Juarez", "Mendez", "Sutter", "Fremont", "Serra",
    "Portola", "Anza", "Cabrillo", "Vallejo", "Bidwell", "Stanford", "Hearst", "Burbank", "Steinbeck", "London",
    "Twain", "Whitman", "Frost", "Alcott", "Webster", "Emerson", "Thoreau", "Longfellow", "Irving", "Baldwin",
    "Hughes", "Parks", "Tubman", "Douglass", "Ride", "Earhart", "Lindbergh", "Armstrong", "Glenn", "Curie",
    "Pasteur", "Newton", "Hale", "Lowell", "Mann", "Dewey", "Holmes", "Hamilton", "Jackson", "Polk", "McKinley",
    "Harding", "Truman", "Eisenhower", "Reagan", "Lick", "Mayne", "Wilcox", "Carr", "Gomez", "Nguyen", "Garcia",
    "Lopez", "Martinez", "Ochoa", "Reyes", "Brown", "Miller", "Davis", "Moore", "Taylor", "Anderson", "Thomas",
    "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "Wright", "Scott", "Hill", "Green", "Baker", "Nelson",
)  # fmt: skip
_FIRST_NAMES = (
    "John", "Mary", "Helen", "George", "Martin Luther", "Cesar", "Sally", "Robert", "Anna", "Thomas", "Daniel",
    "Marian A.", "Augustus F.", "Toby", "Adrian", "Rosa", "James", "Grace", "Dolores", "Ellen", "Frank", "Harvey",
)  # fmt: skip
_PLACE_WORDS = (
    "Oak", "Pine", "Cedar", "Willow", "Laurel", "Maple", "Sycamore", "Cypress", "Redwood", "Valley", "Hillside",
    "Lakeview", "Sunset", "Vista", "Mesa", "Canyon", "Meadow", "Ridge", "Park", "Bay", "Ocean", "Mountain",
    "Highland", "Parkside", "Brookside", "Riverside", "Fairview", "Grandview", "Crestview", "Glenwood", "Rosewood",
    "Wildwood", "Greenwood", "Westwood", "Central", "Garden", "Orchard", "Santa Rita", "Raymond Avenue",
    "Hot Springs", "Santa Margarita", "Helen Carr", "Toby Johnson", "Daniel Webster", "Los Robles", "Las Palmas",
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Summary text pieces. {city} {beds} {baths} {area} {street} are filled per row.
_OPENERS = (
    "Welcome home to this beautifully updated {beds} bedroom, {baths} bath home in the heart of {city}.",
    "Rare opportunity to own a charming home on a quiet tree-lined street in {city}.",
    "HURRY, HURRY.......Great house {beds} bed and {baths} bath ready for its new owners!",
    "'THE PERFECT HOME TO FLIP!  Lots of potential in a great {city} location.",
    "Rare 2-story Gated {beds} bedroom Modern Mediterranean with panoramic views.",
    "LOOK AT THIS PRICE $30k PRICE REDUCTION, USE THE SAVINGS TO MAKE IT YOURS.",
    "Beautiful {area} sq ft single-level home with an open floor plan and abundant natural light.",
    "Nestled at the end of a cul-de-sac, this {beds} bed / {baths} bath residence offers privacy and space.",
    "Stunning remodel in one of {city}'s most desirable neighborhoods!",
    "Investor alert! Tenant occupied unit with long-term tenants in place.",
    "Amazing custom built home atop the knoll of five acres with sweeping mountain views.",
    "Great opportunity to live in the friendly gated community of {street}.",
    "Light-filled top floor condo with high ceilings & a private balcony.",
    "Move-in ready!! Fresh paint, new carpet and new fixtures throughout.",
    "Located in the award winning school district, this home is perfect for a growing family.",
    "Prime location!  Walk to shops, restaurants, parks and public transportation.",
    "Charming Craftsman bungalow with original details and modern conveniences.",
    "Priced to sell! Cash only, sold AS-IS. Bring your contractor.",
)  # fmt: skip
_LAND_OPENERS = (
    "Beautiful 200 acre ranch land with several pastures, seasonal creek and well.",
    "Build your dream home on this gorgeous level lot in {city}.",
    "Rare buildable parcel with utilities at the street and sweeping views.",
    "Vacant land ready for your plans; buyer to verify zoning & permits with the county.",
)
_BODY = (
    "The spacious living room features a cozy fireplace and large windows overlooking the backyard.",
    "The remodeled kitchen boasts quartz counters, stainless steel appliances and a large center island.",
    "Hardwood floors, recessed lighting and dual pane windows throughout.",
    "The primary suite includes a walk-in closet and a spa-like bathroom with a soaking tub.",
    "Enjoy the private backyard with mature fruit trees, a covered patio and plenty of room to entertain.",
    "Attached two car garage with direct access and laundry hookups.",
    "Central heat and air, newer roof and copper plumbing.",
    "Solar panels (owned) keep the utility bills low year round.",
    "HOA dues include water, trash, exterior maintenance, pool and spa.",
    "Close to Hwy 101, 280 and 85 for an easy commute to Silicon Valley employers.",
    "Minutes to the beach, downtown, shopping & dining.",
    "The large lot offers room for an ADU or a pool (buyer to verify with the city).",
    "Upstairs you will find {beds} generous bedrooms and {baths} full baths.",
    "Approximately {area} square feet of living space on a quiet street.",
    "Vaulted ceilings and skylights create a bright and airy feel.",
    "Separate family room opens to the dining area and the sparkling pool.",
    "Community amenities include a clubhouse, fitness center, tennis courts and walking trails.",
    "Needs some TLC but has great bones.  Bring your ideas!",
    "Detached bonus room perfect for a home office, gym or studio.",
    "Drought tolerant landscaping with automatic sprinklers front and back.",
    "Tenant occupied; please do not disturb. Showings by appointment only.",
    "Seller will consider offers between $ {price_low} - $ {price_high}.",
    "Virtual tour: https://www.tour-homes.com/listing/{zip}",
    "All information deemed reliable but not guaranteed, buyer to verify square footage, schools & permits.",
    "Walking distance to top rated schools, parks and the farmers market.",
    "Newer HVAC, tankless water heater, and EV charger in the garage.",
    "Gourmet chef's kitchen with Viking range, wine fridge and butler's pantry.",
    "Panoramic city lights & ocean views from almost every room!",
    "Property is being sold as-is, with no warranties or repairs.",
    "Two units on one lot: live in one and rent the other.",
    "Well water, septic system and propane; off-grid living at its best.",
    "Wraparound porch, barn, and fenced pastures for horses.",
    "Open house Saturday & Sunday 1-4 pm.",
    "Floor plan features {beds} bedrooms plus a den, {baths} bathrooms and an inside laundry room.",
)  # fmt: skip
_CLOSERS = (
    "Don't miss this one!", "Come see it today!", "Welcome home!", "A must see!!!", "Won't last long.",
    "Schedule your private showing today.", "Truly a gem in {city}.", "This is the one you've been waiting for...",
)  # fmt: skip
_BOILERPLATE: Mapping[str, float] = {
    "Neighboring The Ace Hotel, 939 S. Broadway is a historic conversion with loft living in Downtown LA.": 18,
    "-": 16, ".": 15, "40 units remaining! New construction townhomes with solar and smart home features.": 8,
    "Sold before processing.": 6, "For Comp Purposes Only...": 6,
}  # fmt: skip


@dataclass(frozen=True)
class _Vocab:
    """Fixed, seed-independent vocabularies: cities with zips, regions, price effects and schools."""

    city: np.ndarray
    city_weight: np.ndarray
    city_effect: np.ndarray
    city_is_az: np.ndarray
    zip_code: np.ndarray
    zip_effect: np.ndarray
    zip_start: np.ndarray
    zip_count: np.ndarray
    schools: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    """level -> (names, scores, per-city start, per-city count)."""
    type_label: np.ndarray
    type_weight: np.ndarray
    type_group: np.ndarray


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    """Build the vocabularies once from a fixed seed so that every seed shares them."""
    rng = np.random.default_rng(_VOCAB_SEED)
    names = [c[0] for c in _TOP_CITIES]
    weights = [c[1] for c in _TOP_CITIES]
    effects = [c[2] for c in _TOP_CITIES]
    named_share, town_share, az_share = 0.40, 0.10, 0.01
    named_w = 1.0 / (np.arange(len(_NAMED_CITIES)) + 4.0)
    names += [c[0] for c in _NAMED_CITIES]
    weights += list(named_w / named_w.sum() * named_share)
    effects += [c[1] for c in _NAMED_CITIES]
    combos = [f"{a} {b}" for a in _TOWN_FIRST for b in _TOWN_SECOND]
    towns = [combos[i] for i in rng.choice(len(combos), size=450, replace=False)]
    town_w = 1.0 / (np.arange(len(towns)) + 10.0)
    names += towns
    weights += list(town_w / town_w.sum() * town_share)
    effects += list(rng.normal(-0.35, 0.45, size=len(towns)))
    n_ca = len(names)
    names += [c[0] for c in _AZ_CITIES]
    az_w = np.array([8.0] + [1.0] * (len(_AZ_CITIES) - 1))
    weights += list(az_w / az_w.sum() * az_share)
    effects += list(rng.normal(-0.9, 0.2, size=len(_AZ_CITIES)))
    city = np.array(names, dtype=object)
    weight = np.array(weights)
    is_az = np.arange(len(names)) >= n_ca

    # Zips: fixed blocks for the big three, free 90001-96155 codes for the rest, AZ blocks for AZ.
    fixed = {"Los Angeles": np.r_[90001:90069, 91040:91046], "San Jose": np.r_[95110:95140],
             "San Francisco": np.r_[94102:94135]}  # fmt: skip
    used = set(np.concatenate(list(fixed.values())).tolist())
    free = np.array([z for z in range(90001, 96156) if z not in used])
    free = free[rng.permutation(free.size)]
    zips: list[np.ndarray] = []
    cursor = 0
    for i, name in enumerate(names):
        if name in fixed:
            zips.append(fixed[name])
        elif is_az[i]:
            _, first, count = _AZ_CITIES[i - n_ca]
            zips.append(np.arange(first, first + count))
        else:
            k = int(np.clip(round(weight[i] * 250), 1, 8))
            zips.append(free[cursor : cursor + k])
            cursor += k
    zip_count = np.array([z.size for z in zips])
    zip_start = np.concatenate([[0], np.cumsum(zip_count)[:-1]])
    zip_code = np.concatenate(zips)
    zip_effect = rng.normal(0.0, 0.22, size=zip_code.size)

    effect = np.array(effects)
    schools = {}
    for level, per_zip, top_score in (("elementary", 2.5, 10), ("middle", 0.8, 9), ("high", 0.6, 10)):
        counts = np.maximum(1, np.rint(zip_count * per_zip)).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        owner = np.repeat(np.arange(len(names)), counts)
        school_names = _school_names(rng, level, city[owner])
        score = np.clip(np.rint(5.8 + 2.2 * effect[owner] + 1.6 * rng.standard_normal(owner.size)), 1, top_score)
        schools[level] = (school_names, score, starts, counts)

    type_label = [t[0] for t in _TYPES]
    type_weight = [t[1] for t in _TYPES]
    type_group = [t[2] for t in _TYPES]
    tail_seen = set(type_label)
    for _ in range(200):
        base, group = _TYPE_TAIL_BASE[rng.integers(len(_TYPE_TAIL_BASE))]
        style = _TYPE_TAIL_STYLE[rng.integers(len(_TYPE_TAIL_STYLE))]
        label = base if rng.random() < 0.1 else f"{base}, {style}"
        if label not in tail_seen and len(type_label) < len(_TYPES) + 130:
            tail_seen.add(label)
            type_label.append(label)
            type_weight.append(1.3 / 130 * rng.exponential())
            type_group.append(group)
    return _Vocab(
        city=city,
        city_weight=weight / weight.sum(),
        city_effect=effect,
        city_is_az=is_az,
        zip_code=zip_code,
        zip_effect=zip_effect,
        zip_start=zip_start,
        zip_count=zip_count,
        schools=schools,
        type_label=np.array(type_label, dtype=object),
        type_weight=np.array(type_weight) / np.sum(type_weight),
        type_group=np.array(type_group, dtype=object),
    )


def _school_names(rng: np.random.Generator, level: str, owner_city: np.ndarray) -> np.ndarray:
    """School names in the real styles: "<Name> Elementary School", "<City> High School", "Delhi Middle"..."""
    n = owner_city.size
    surname = np.array(_SURNAMES, dtype=object)[rng.integers(len(_SURNAMES), size=n)]
    first = np.array(_FIRST_NAMES, dtype=object)[rng.integers(len(_FIRST_NAMES), size=n)]
    place = np.array(_PLACE_WORDS, dtype=object)[rng.integers(len(_PLACE_WORDS), size=n)]
    kind = rng.random(n)
    city_share = {"elementary": 0.05, "middle": 0.25, "high": 0.45}[level]
    stem = np.where(kind < 0.35, surname, np.where(kind < 0.6, place, first + " " + surname))
    stem = np.where(rng.random(n) < city_share, owner_city, stem)
    variant = rng.random(n)
    if level == "elementary":
        suffix = np.where(variant < 0.9, " Elementary School", np.where(variant < 0.95, " Elementary", " School"))
        return (stem + suffix).astype(object)
    if level == "middle":
        paren = surname + " (" + first + ")"
        stem = np.where(variant < 0.03, paren, stem)
        suffix = np.where(variant < 0.88, " Middle School", np.where(variant < 0.94, " Middle", " Intermediate School"))
        return (stem + suffix).astype(object)
    suffix = np.where(
        variant < 0.8,
        " High School",
        np.where(
            variant < 0.93,
            " Senior High School",
            np.where(variant < 0.97, " High School Charter", " High A Critical Design And Gaming School"),
        ),
    )
    return (stem + suffix).astype(object)


# ---------------------------------------------------------------------------------------------
# Small vectorized helpers.


def _pick(rng: np.random.Generator, n: int, table: Mapping[str, float]) -> np.ndarray:
    """Draw n labels with the given relative weights."""
    keys = np.array(list(table), dtype=object)
    w = np.array(list(table.values()), dtype=np.float64)
    return keys[rng.choice(len(keys), size=n, p=w / w.sum())]


def _random_lists(
    rng: np.random.Generator, n: int, items: Sequence[str], k_min: int, k_max: int, canonical: float
) -> np.ndarray:
    """n ", "-joined lists of distinct items (earlier items likelier); a `canonical` share keeps item order."""
    v = len(items)
    k_max = min(k_max, v)
    w = 1.0 / np.sqrt(np.arange(v) + 1.0)
    keys = rng.random((n, v)) ** (1.0 / w)
    order = np.argsort(-keys, axis=1)[:, :k_max]
    k = rng.integers(k_min, k_max + 1, size=n)
    unused = np.arange(k_max)[None, :] >= k[:, None]
    order = np.where(unused, v, order)
    keep = rng.random(n) < canonical
    order[keep] = np.sort(order[keep], axis=1)
    table = np.array([*items, None], dtype=object)[order]
    frame = pl.DataFrame({f"c{j}": pl.Series(table[:, j].tolist(), dtype=pl.Utf8) for j in range(k_max)})
    joined = frame.select(pl.concat_str(pl.all(), separator=", ", ignore_nulls=True)).to_series()
    return joined.to_numpy().astype(object)


def _mixed(
    rng: np.random.Generator,
    n: int,
    top: Mapping[str, float],
    random_share: float,
    items: Sequence[str],
    k_max: int,
    canonical: float = 0.6,
) -> np.ndarray:
    """Frequent exact values for most rows, random item lists for the long tail of distinct values."""
    out = _pick(rng, n, top)
    tail = rng.random(n) < random_share
    out[tail] = _random_lists(rng, int(tail.sum()), items, 1, k_max, canonical)
    return out


def _rate(is_test: np.ndarray, train_rate: float, test_rate: float | None = None) -> np.ndarray:
    """Per-row probability: train rows use the train rate, test rows the test rate."""
    return np.where(is_test, train_rate if test_rate is None else test_rate, train_rate)


def _take(queue: list[int], rate: float, population: int) -> np.ndarray:
    """At least one row (while any is left), else `rate` of the population, off a shuffled queue."""
    k = min(len(queue), max(1, round(rate * population)))
    taken = queue[:k]
    del queue[:k]
    return np.array(taken, dtype=np.int64)


def _text(values: np.ndarray, missing: np.ndarray | None = None) -> pl.Series:
    """Object array of strings -> Utf8 series; missing rows become null (an empty CSV field)."""
    s = pl.Series(np.asarray(values, dtype=object).tolist(), dtype=pl.Utf8)
    if missing is not None:
        s = pl.select(pl.when(pl.lit(pl.Series(missing))).then(None).otherwise(s)).to_series()
    return s


def _float_text(values: np.ndarray, missing: np.ndarray | None = None) -> pl.Series:
    """float64 as pandas writes it ("1969.0", "20908.8", shortest round-trip digits); NaN/missing -> null."""
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v) if missing is None else (~np.isfinite(v) | missing)
    s = pl.Series(np.where(bad, 0.0, v)).cast(pl.Utf8)
    return pl.select(pl.when(pl.lit(pl.Series(bad))).then(None).otherwise(s)).to_series()


def _commas(values: np.ndarray) -> pl.Series:
    """Whole dollars with thousands separators ("3,825,000"), the way listing text writes them."""
    v = pl.Series(np.asarray(values, dtype=np.int64))
    frame = pl.DataFrame({"v": v})
    m, k, u = pl.col("v") // 1_000_000, (pl.col("v") // 1000) % 1000, pl.col("v") % 1000

    def pad(e: pl.Expr) -> pl.Expr:
        return e.cast(pl.Utf8).str.zfill(3)

    expr = (
        pl.when(pl.col("v") >= 1_000_000)
        .then(pl.concat_str(m.cast(pl.Utf8), pl.lit(","), pad(k), pl.lit(","), pad(u)))
        .when(pl.col("v") >= 1000)
        .then(pl.concat_str(k.cast(pl.Utf8), pl.lit(","), pad(u)))
        .otherwise(u.cast(pl.Utf8))
    )
    return frame.select(expr).to_series()


def _to_days(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[D]").astype(np.int64)


def _prev_friday(days: np.ndarray) -> np.ndarray:
    """Day numbers moved back to the latest Friday (1970-01-02, day 1, was a Friday)."""
    return days - (days - 1) % 7


def _last_business_day_of_month(days: np.ndarray) -> np.ndarray:
    """The last weekday of each day's month (sales recorded at month end)."""
    month = days.astype("datetime64[D]").astype("datetime64[M]")
    last = _to_days((month + 1).astype("datetime64[D]")) - 1
    weekday = (last + 3) % 7  # Monday = 0
    return last - np.where(weekday == 5, 1, np.where(weekday == 6, 2, 0))


def _date_text(days: np.ndarray, missing: np.ndarray | None = None) -> pl.Series:
    s = pl.Series(days.astype("datetime64[D]")).dt.strftime("%Y-%m-%d")
    if missing is not None:
        s = pl.select(pl.when(pl.lit(pl.Series(missing))).then(None).otherwise(s)).to_series()
    return s


def _round_to(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    return np.rint(values / steps) * steps


# ---------------------------------------------------------------------------------------------


@dataclass
class _Houses:
    """Per-row physical attributes (what a duplicate listing shares with its earlier copy)."""

    city: np.ndarray
    zip_idx: np.ndarray
    type_idx: np.ndarray
    year: np.ndarray
    area: np.ndarray
    beds: np.ndarray
    baths: np.ndarray
    full_baths: np.ndarray
    lot: np.ndarray
    garage: np.ndarray
    total_spaces: np.ndarray
    elem: np.ndarray
    middle: np.ndarray
    high: np.ndarray
    elem_dist: np.ndarray
    middle_dist: np.ndarray
    high_dist: np.ndarray
    street_no: np.ndarray
    street: np.ndarray
    unit: np.ndarray
    region: np.ndarray

    def copy_rows(self, dst: np.ndarray, src: np.ndarray) -> None:
        for value in vars(self).values():
            value[dst] = value[src]


def _houses(rng: np.random.Generator, n: int, az_rows: np.ndarray) -> _Houses:
    """Draw the houses: place, type, size, rooms, lot, parking, schools and street address."""
    v = _vocab()
    norm, unif = rng.standard_normal, rng.random
    ca = np.flatnonzero(~v.city_is_az)
    ca_w = v.city_weight[ca] / v.city_weight[ca].sum()
    city = ca[rng.choice(ca.size, size=n, p=ca_w)]
    az = np.flatnonzero(v.city_is_az)
    az_w = v.city_weight[az] / v.city_weight[az].sum()
    city[az_rows] = az[rng.choice(az.size, size=az_rows.size, p=az_w)]
    zip_idx = v.zip_start[city] + (unif(n) * v.zip_count[city]).astype(np.int64)

    type_idx = rng.choice(v.type_label.size, size=n, p=v.type_weight)
    group = v.type_group[type_idx]
    condo, land = group == "condo", group == "land"

    year = 1962 + 26 * norm(n) + 10 * condo
    year = np.rint(np.where(year > 2018, 4036 - year, year))  # fold the tail back: new builds come next
    new_build = unif(n) < 0.035
    year[new_build] = rng.choice([2019.0, 2020.0, 2021.0], size=int(new_build.sum()), p=[0.3, 0.6, 0.1])
    year = np.clip(year, 1880, 2021)
    year[land] = np.nan

    log_area = np.log(1680) + np.array([_GROUP_AREA[g] for g in group]) + 0.4 * norm(n)
    area = np.exp(log_area)
    step = np.where(unif(n) < 0.35, 10.0, np.where(unif(n) < 0.15, 100.0, 1.0))
    area = np.maximum(_round_to(area, step), 250.0)
    area[land] = np.nan
    beds = np.clip(np.rint(area / 620 + 0.7 + 0.6 * norm(n)), 0, 12)
    baths = np.clip(np.rint(0.45 * beds + area / 2200 + 0.05 + 0.45 * norm(n)), 1, 24)
    full_baths = np.maximum(baths - (unif(n) < 0.35), 1.0)

    lot = np.exp(np.log(6500) + 0.5 * norm(n))
    rural = unif(n) < 0.08
    lot[rural] = np.exp(np.log(60000) + 1.2 * norm(int(rural.sum())))
    lot[land] = np.exp(np.log(20000) + 1.5 * norm(int(land.sum())))
    acres = unif(n) < np.where(rural | land, 0.8, 0.12)
    lot = np.where(acres, np.maximum(np.rint(lot / 435.6), 1) * 4356 / 10, np.rint(lot))

    garage = rng.choice([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], size=n, p=[0.38, 0.12, 0.4, 0.06, 0.025, 0.01, 0.005])
    garage[condo] = rng.choice([0.0, 1.0, 2.0], size=int(condo.sum()), p=[0.45, 0.3, 0.25])
    garage[land] = 0.0
    extra = np.where(unif(n) < 0.1, rng.integers(1, 3, size=n), 0) - (unif(n) < 0.015)
    total_spaces = np.maximum(garage + extra, 0.0)

    levels = {}
    for level in ("elementary", "middle", "high"):
        _, _, starts, counts = v.schools[level]
        levels[level] = starts[city] + (unif(n) * counts[city]).astype(np.int64)
    dist = {
        lvl: np.clip(np.rint(np.exp(np.log(med) + 0.85 * norm(n) + 2.0 * (unif(n) < 0.01)) * 10), 0, cap) / 10
        for lvl, med, cap in (("elementary", 0.5, 572), ("middle", 1.0, 572), ("high", 1.3, 739))
    }

    street_no = np.rint(np.exp(np.log(1500) + 1.2 * norm(n))).clip(1, 39999).astype(np.int64)
    street_no[land & (unif(n) < 0.6)] = 0
    prefix = _pick(rng, n, {"": 75, "N ": 7, "S ": 7, "E ": 5, "W ": 6})
    ordinal = unif(n) < 0.12
    nums = rng.integers(1, 130, size=n)
    suffix_th = np.where((nums % 100 >= 11) & (nums % 100 <= 13), "th", np.array(["th", "st", "nd", "rd", "th",
                         "th", "th", "th", "th", "th"])[nums % 10])  # fmt: skip
    name = np.where(ordinal, nums.astype(str).astype(object) + suffix_th, np.array(_STREETS, dtype=object)[
        rng.integers(len(_STREETS), size=n)])  # fmt: skip
    street = prefix + name + " " + _pick(rng, n, _STREET_SUFFIX)
    has_unit = unif(n) < np.where(condo, 0.75, np.where(group == "mobile", 0.5, 0.03))
    unit_kind = np.where(group == "mobile", "SPACE ", _pick(rng, n, {"UNIT ": 45, "#": 35, "APT ": 12, "STE ": 4,
                                                                       "SPACE ": 4}))  # fmt: skip
    unit_no = rng.integers(1, 900, size=n).astype(str).astype(object)
    unit = np.where(has_unit, " " + unit_kind + unit_no, "").astype(object)

    region = v.city[city].copy()
    la = (v.city[city] == "Los Angeles") & (unif(n) < 0.22)
    region[la] = np.array(_LA_REGIONS, dtype=object)[rng.integers(len(_LA_REGIONS), size=int(la.sum()))]
    dodger = v.city[city] == "Dodgertown"
    region[dodger] = "Los Angeles"
    moved = (unif(n) < 0.02) & ~v.city_is_az[city]
    region[moved] = v.city[ca[rng.integers(ca.size, size=int(moved.sum()))]]
    return _Houses(
        city=city, zip_idx=zip_idx, type_idx=type_idx, year=year, area=area, beds=beds, baths=baths,
        full_baths=full_baths, lot=lot, garage=garage, total_spaces=total_spaces, elem=levels["elementary"],
        middle=levels["middle"], high=levels["high"], elem_dist=dist["elementary"], middle_dist=dist["middle"],
        high_dist=dist["high"], street_no=street_no, street=street.astype(object), unit=unit, region=region,
    )  # fmt: skip


def _log_price(rng: np.random.Generator, h: _Houses, sale_frac: np.ndarray) -> np.ndarray:
    """Latent log sale price: location, size, type, lot, schools, a mild upward trend and noise."""
    v = _vocab()
    n = sale_frac.size
    group = v.type_group[h.type_idx]
    land = group == "land"
    elem_score = v.schools["elementary"][1][h.elem]
    lp = (
        13.72
        + v.city_effect[h.city]
        + v.zip_effect[h.zip_idx]
        + np.array([_GROUP_PRICE[g] for g in group])
        + 0.62 * np.log(np.nan_to_num(h.area, nan=1566.0) / 1566)
        + 0.04 * (np.nan_to_num(h.baths, nan=2.0) - 2)
        + 0.05 * np.clip(np.log(h.lot / 6500), -2, 4) * (group == "house")
        - 0.0015 * (np.nan_to_num(h.year, nan=1966.0) - 1966)
        + 0.035 * (elem_score - 6)
        + 0.07 * sale_frac
        + 0.22 * rng.standard_normal(n)
        + np.where(rng.random(n) < 0.015, rng.normal(0.8, 0.5, n), 0.0)  # estates and trophy homes
    )
    land_lp = 12.4 + v.city_effect[h.city] + 0.3 * np.log(h.lot / 20000) + 0.5 * rng.standard_normal(n)
    return np.where(land, land_lp, lp)


def _sold_price(rng: np.random.Generator, log_price: np.ndarray) -> np.ndarray:
    """Round sale prices (to $1,000 mostly, some $5,000 or $500) in [100,500, 90,000,000]."""
    n = log_price.size
    price = np.exp(log_price)
    low = price < MIN_PRICE
    price[low] = MIN_PRICE + (MIN_PRICE - price[low]) * 0.5
    step = np.where(rng.random(n) < 0.72, 1000.0, np.where(rng.random(n) < 0.8, 5000.0, 500.0))
    return np.clip(_round_to(price, step), MIN_PRICE, MAX_PRICE)


def _listed_price(rng: np.random.Generator, sold: np.ndarray) -> np.ndarray:
    """Asking price: sold x lognormal noise (sd ~0.09, a stale eighth at ~0.4), with charm pricing."""
    n = sold.size
    stale = rng.random(n) < 0.12
    noise = np.where(stale, rng.normal(0.05, 0.4, n), rng.normal(0.01, 0.09, n))
    listed = sold * np.exp(noise)
    style = rng.random(n)
    charm = np.ceil(listed / 10_000) * 10_000 - 1000  # 899,000
    exact = np.rint(listed / 100) * 100  # 295,900
    listed = np.where(style < 0.35, charm, np.where(style < 0.9, np.rint(listed / 1000) * 1000, exact))
    return np.maximum(listed, 1000.0)


def _summary(
    rng: np.random.Generator,
    h: _Houses,
    frame: pl.DataFrame,
    sold: np.ndarray,
    listed: np.ndarray,
    sale_days: np.ndarray,
    leak: np.ndarray,
) -> pl.Series:
    """Listing remarks: agent prose (templates with quirks) or the machine "zillow" paragraph.

    Leak rows get "This home last sold for $X in <Month> 2020. The Zestimate ..." with X = Sold Price.
    """
    v = _vocab()
    n = sold.size
    if n == 0:
        return pl.Series([], dtype=pl.Utf8)
    u = rng.random(n)
    machine = leak | (u < 0.09)
    boiler = ~machine & (u > 0.997)

    group = v.type_group[h.type_idx]
    area = np.nan_to_num(h.area, nan=0.0).astype(np.int64)
    beds = np.nan_to_num(h.beds, nan=0.0).astype(np.int64)
    baths = np.nan_to_num(h.baths, nan=0.0).astype(np.int64)
    year = np.nan_to_num(h.year, nan=0.0).astype(np.int64)
    zestimate = np.rint(sold * np.exp(rng.normal(0.03, 0.05, n)))
    rent = np.rint(zestimate * 0.0036 * np.exp(rng.normal(0.0, 0.1, n)))
    sale_month = sale_days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month, sale_year = sale_month % 12, sale_month // 12 + 1970
    cols = pl.DataFrame(
        {
            "addr": frame["Address"],
            "city": frame["City"],
            "state": frame["State"],
            "zip": frame["Zip"],
            "kind": pl.Series([_GROUP_KIND[g] for g in group], dtype=pl.Utf8),
            "land": pl.Series(group == "land"),
            "area": _commas(area),
            "beds": pl.Series(beds).cast(pl.Utf8),
            "baths": pl.Series(baths).cast(pl.Utf8),
            "year": pl.Series(year).cast(pl.Utf8),
            "sold": _commas(sold),
            "zest": _commas(zestimate),
            "rent": _commas(rent),
            "month": pl.Series(_MONTHS[month].tolist(), dtype=pl.Utf8),
            "sale_year": pl.Series(sale_year).cast(pl.Utf8),
            "leak": pl.Series(leak),
            "street": pl.Series(h.street.tolist(), dtype=pl.Utf8),
            "price_low": _commas(np.rint(listed * 0.97 / 1000) * 1000),
            "price_high": _commas(np.rint(listed * 1.03 / 1000) * 1000),
        }
    )
    head = pl.concat_str(pl.col("addr"), pl.lit(", "), pl.col("city"), pl.lit(", "), pl.col("state"), pl.lit(" "),
                         pl.col("zip"))  # fmt: skip
    specs = (
        pl.when(pl.col("land"))
        .then(pl.lit(" is a lot/land property."))
        .otherwise(
            pl.concat_str(
                pl.lit(" is a "),
                pl.col("kind"),
                pl.lit(" home that contains "),
                pl.col("area"),
                pl.lit(" sq ft and was built in "),
                pl.col("year"),
                pl.lit(". It contains "),
                pl.col("beds"),
                pl.lit(" bedrooms and "),
                pl.col("baths"),
                pl.lit(" bathrooms."),
            )
        )
    )
    leak_text = pl.concat_str(
        pl.lit(" This home last sold for $"), pl.col("sold"), pl.lit(" in "), pl.col("month"), pl.lit(" "),
        pl.col("sale_year"), pl.lit(". The Zestimate for this house is $"), pl.col("zest"),
        pl.lit(" The Rent Zestimate for this home is $"), pl.col("rent"), pl.lit("/mo."),
    )  # fmt: skip
    rent_text = pl.concat_str(pl.lit(" The Rent Zestimate for this home is $"), pl.col("rent"), pl.lit("/mo."))
    machine_text = pl.concat_str(head, specs, pl.when(pl.col("leak")).then(leak_text).otherwise(rent_text))

    # Agent prose: opener, 4-9 distinct body sentences (1-2 for land), maybe a closer; some shouted.
    land = group == "land"
    n_body = np.where(land, rng.integers(1, 3, size=n), rng.integers(4, 10, size=n))
    openers = np.array(_OPENERS, dtype=object)
    opener = openers[rng.integers(len(_OPENERS), size=n)]
    opener[land] = np.array(_LAND_OPENERS, dtype=object)[rng.integers(len(_LAND_OPENERS), size=int(land.sum()))]
    parts = [opener]
    body = np.array(_BODY, dtype=object)
    order = np.argsort(rng.random((n, body.size)), axis=1)
    for j in range(9):
        parts.append(np.where(j < n_body, body[order[:, j]], None))
    parts.append(np.where(rng.random(n) < 0.6, np.array(_CLOSERS, dtype=object)[rng.integers(len(_CLOSERS), size=n)],
                          None))  # fmt: skip
    double_space = rng.random(n) < 0.15
    prose = pl.DataFrame({f"p{j}": pl.Series(p.tolist(), dtype=pl.Utf8) for j, p in enumerate(parts)})
    joined = pl.concat_str(pl.all(), separator=" ", ignore_nulls=True)
    prose_text = prose.select(
        pl.when(pl.lit(pl.Series(double_space)))
        .then(joined.str.replace_all(". ", ".  ", literal=True))
        .otherwise(joined)
    ).to_series()
    shout = rng.random(n) < 0.04
    cols = cols.with_columns(prose=prose_text, shout=pl.Series(shout))
    for key in ("city", "beds", "baths", "area", "street", "zip", "price_low", "price_high"):
        # One step per placeholder, outside when/then: polars 1.x rejects column replacements there.
        cols = cols.with_columns(pl.col("prose").str.replace_all("{" + key + "}", pl.col(key), literal=True))
    filled = pl.when(pl.col("shout")).then(pl.col("prose").str.to_uppercase()).otherwise(pl.col("prose"))
    boiler_text = _pick(rng, n, _BOILERPLATE)
    cols = cols.with_columns(
        machine=pl.Series(machine), boiler=pl.Series(boiler), boiler_text=pl.Series(boiler_text.tolist(), dtype=pl.Utf8)
    )
    return cols.select(
        pl.when(pl.col("machine"))
        .then(machine_text)
        .when(pl.col("boiler"))
        .then(pl.col("boiler_text"))
        .otherwise(filled)
    ).to_series()


def _pairs(rng: np.random.Generator, n: int, table: Sequence[tuple[str, str, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Matching (column, companion features column) values drawn from paired vocabularies."""
    w = np.array([t[2] for t in table])
    idx = rng.choice(len(table), size=n, p=w / w.sum())
    return np.array([t[0] for t in table], dtype=object)[idx], np.array([t[1] for t in table], dtype=object)[idx]


def _none_or_missing(u: np.ndarray, values: np.ndarray, empty: float, none: float) -> tuple[np.ndarray, np.ndarray]:
    """Put the literal "None" where empty <= u < empty + none; return (values, empty mask)."""
    values = values.copy()
    values[(u >= empty) & (u < empty + none)] = "None"
    return values, u < empty


def generate(n_train: int, n_test: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(train, test, sample_submission) as string-formatted frames exactly as the CSV would hold them.

    Missing values are nulls (empty CSV fields); every other cell is the text the CSV holds.
    """
    if n_train < 1 or n_test < 0:
        raise ValueError(f"need n_train >= 1 and n_test >= 0, got {n_train} and {n_test}")
    v = _vocab()
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    ids = np.arange(n)
    is_test = ids >= n_train
    unif, norm = rng.random, rng.standard_normal

    # Rows set aside for quirks that must show even at small sizes (disjoint, at least one each).
    queue = rng.permutation(n).tolist()
    az_rows = _take(queue, 0.011, n)
    h = _houses(rng, n, az_rows)
    dup_rows = _take(queue, 0.003, n)
    dup_rows = dup_rows[dup_rows > 0]
    dup_src = (unif(dup_rows.size) * dup_rows).astype(np.int64)
    h.copy_rows(dup_rows, dup_src)
    sources = set(dup_src.tolist())
    queue = [r for r in queue if r not in sources]  # keep both copies of a duplicate free of quirks
    group = v.type_group[h.type_idx]
    land, condo = group == "land", group == "condo"

    # Time: a higher Id sells later (all in 2020); listings precede sales by a skewed time on market.
    sale_frac = (ids + 0.5) / n
    sale_days = _to_days(_SALE_START) + np.rint(sale_frac * _SALE_DAYS + 4 * norm(n)).astype(np.int64)
    sale_days = np.clip(sale_days, _to_days(_SALE_START), _to_days(np.datetime64("2020-12-31")))
    dom = np.where(unif(n) < 0.72, np.exp(np.log(25) + 0.8 * norm(n)), np.exp(np.log(90) + 0.8 * norm(n)))
    stale = unif(n) < 0.05
    dom = np.minimum(dom, 700)
    dom[stale] = 300 + 800 * unif(int(stale.sum()))
    listed_days = sale_days - np.rint(dom).astype(np.int64)
    relisted = unif(n) < 0.03
    relist_days = sale_days[relisted] + rng.integers(1, 120, size=int(relisted.sum()))
    listed_days[relisted] = np.minimum(relist_days, _to_days(np.datetime64("2020-12-30")))
    friday = unif(n) < 0.35
    listed_days[friday] = _prev_friday(listed_days[friday])

    sold = _sold_price(rng, _log_price(rng, h, sale_frac))
    listed = _listed_price(rng, sold)
    tax_value = np.rint(np.minimum(sold * np.exp(rng.normal(-0.5, 0.45, n)), sold * 1.15))
    annual_tax = np.rint(tax_value * 0.0118 * np.exp(rng.normal(0.0, 0.12, n)) + 300 * unif(n))
    years_ago = np.clip(rng.exponential(9.0, n), 0.2, 40)
    last_days = sale_days - np.rint(years_ago * 365.25).astype(np.int64)
    month_end = unif(n) < 0.55
    last_days[month_end] = _last_business_day_of_month(last_days[month_end])
    last_price = np.maximum(
        _round_to(sold * np.exp(-0.055 * years_ago + rng.normal(0.0, 0.15, n)), np.where(unif(n) < 0.8, 1000, 500)),
        1000.0,
    )
    train_queue = [r for r in queue if r < n_train]
    leak_rows = _take(train_queue, LEAK_RATE, n_train)
    current = _take(train_queue, 0.01, n_train)  # Last Sold = this very sale
    last_days[current] = sale_days[current]
    last_price[current] = sold[current]
    region_missing = _take(train_queue, 2 / 47439, n_train)
    queue = [r for r in queue if r >= n_train] + train_queue
    queue = [queue[i] for i in rng.permutation(len(queue))]

    # Observed values: copies of the truth, then impossible values written over a few of them.
    # `shown` marks those cells so the missing-value masks below never hide them.
    year = h.year.copy()
    lot = h.lot.copy()
    area = h.area.copy()
    baths = h.baths.copy()
    full_baths = h.full_baths.copy()
    garage, total_spaces = h.garage.copy(), h.total_spaces.copy()
    shown = {c: np.zeros(n, dtype=bool) for c in ("year", "lot", "area", "baths", "spaces", "tax", "annual")}

    def quirk(key: str, rate: float) -> np.ndarray:
        rows = _take(queue, rate, n)
        shown[key][rows] = True
        return rows

    for bad, rate in ((0.0, 1e-4), (19.0, 5e-5), (9999.0, 2e-4), (1471.0, 3e-5), (2281.0, 3e-5)):
        year[quirk("year", rate)] = bad
    lot[quirk("lot", 3e-4)] = 0.0
    huge = quirk("lot", 3e-4)
    lot[huge] = np.rint(lot[huge]) * 43560.0  # square feet parsed as acres
    huge_area = quirk("area", 5e-5)
    area[huge_area] = np.nan_to_num(area[huge_area], nan=4050.0) * 43560.0
    junk = quirk("lot", 1e-4)  # the Id-0 kind of row: lot 1, no baths, area 1, text bedrooms
    shown["area"][junk] = shown["baths"][junk] = True
    lot[junk], baths[junk], full_baths[junk], area[junk] = 1.0, 0.0, np.nan, 1.0
    for bad in (-15.0, 1000.0):
        rows = quirk("spaces", 5e-5)
        garage[rows], total_spaces[rows] = bad, bad
    baths[(unif(n) < 0.004) & ~land] = 0.0
    listed[_take(queue, 2e-4, n)] = 0.0
    tax_value[quirk("tax", 2e-4)] = 0.0
    annual_tax[quirk("annual", 2e-4)] = 0.0
    zero_last = _take(queue, 2e-4, n)

    # Bedrooms: digits, or room-feature text for ~15% of rows (always for the junk rows).
    bed_text = _mixed(rng, n, _BEDROOM_TEXT, 0.3, _BEDROOM_ITEMS, 4)
    as_text = (unif(n) < 0.15) & ~land
    as_text[junk] = True
    bedrooms = np.where(as_text, bed_text, np.nan_to_num(h.beds, nan=0.0).astype(np.int64).astype(str).astype(object))

    # Missingness (train rate, test rate) from the schema doc; related columns share a draw.
    def miss(train_rate: float, test_rate: float | None = None) -> np.ndarray:
        return unif(n) < _rate(is_test, train_rate, test_rate)

    land_share = float(land.mean())

    def miss_or_land(train_rate: float, test_rate: float) -> np.ndarray:
        """Land has no building: missing there, and at the remaining rate elsewhere (same total)."""
        rest = max(1.0 - land_share, 1e-9)
        train_rest = max(train_rate - land_share, 0.0) / rest
        test_rest = max(test_rate - land_share, 0.0) / rest
        return miss(train_rest, test_rest) | land

    u_heat, u_cool, u_park, u_tax = unif(n), unif(n), unif(n), unif(n)
    u_cool_f = np.where(unif(n) < 0.9, u_cool, unif(n))
    u_park_f = np.where(unif(n) < 0.95, u_park, unif(n))
    heating, heating_f = _pairs(rng, n, _HEATING)
    tail = unif(n) < 0.2
    heating[tail] = _random_lists(rng, int(tail.sum()), _HEATING_ITEMS, 1, 4, 0.5)
    heating_f[tail] = _random_lists(rng, int(tail.sum()), _HEATING_ITEMS, 1, 3, 0.7)
    lower = unif(n) < 0.35
    heating[lower] = [h.replace("Air", "air") for h in heating[lower]]
    cooling, cooling_f = _pairs(rng, n, _COOLING)
    tail = unif(n) < 0.12
    cooling[tail] = _random_lists(rng, int(tail.sum()), _COOLING_ITEMS, 1, 4, 0.5)
    cooling_f[tail] = _random_lists(rng, int(tail.sum()), _COOLING_ITEMS, 1, 3, 0.7)
    cooling, cooling_empty = _none_or_missing(u_cool, cooling, 0.191, 0.245)
    cooling_f, cooling_f_empty = _none_or_missing(u_cool_f, cooling_f, 0.21, 0.258)

    parking_f = _mixed(rng, n, _PARKING, 0.4, _PARKING_ITEMS, 5, canonical=0.3)
    parking = parking_f.copy()
    differ = unif(n) < 0.08
    parking[differ] = _random_lists(rng, int(differ.sum()), _PARKING_ITEMS, 1, 4, 0.3)
    parking_f, parking_f_empty = _none_or_missing(u_park_f, parking_f, 0.084, 0.017)
    parking[(u_park >= 0.029) & (u_park < 0.101)] = "0 spaces"
    parking, parking_empty = _none_or_missing(u_park, parking, 0.021, 0.008)
    laundry = _mixed(rng, n, _LAUNDRY, 0.3, _LAUNDRY_ITEMS, 4, canonical=0.4)
    laundry, laundry_empty = _none_or_missing(unif(n), laundry, 0.253, 0.055)
    appliances = _mixed(rng, n, _APPLIANCES_TOP, 0.7, _APPLIANCES_ZILLOW, 8, canonical=0.95)
    agent = unif(n) < 0.12
    appliances[agent] = _random_lists(rng, int(agent.sum()), _APPLIANCES_AGENT, 1, 7, 0.1)
    flooring = _mixed(rng, n, _FLOORING_TOP, 0.55, _FLOORING_ITEMS, 4, canonical=0.5)

    heat_missing = (u_heat < _rate(is_test, 0.1444, 0.1474) - land_share) | land
    heat_f_missing = (u_heat < _rate(is_test, 0.1622, 0.1535) - land_share) | land
    elem_missing = miss(0.10, 0.1186)
    middle_missing = miss(0.3521, 0.3659)
    high_missing = miss(0.1054, 0.0687)
    spaces_missing = miss(0.0193, 0.0237)
    last_missing = miss(0.3745, 0.3724)
    last_missing[current] = False
    region_null = np.zeros(n, dtype=bool)
    region_null[region_missing] = True
    last_price[zero_last] = 0.0
    last_missing[zero_last] = False

    v_elem_names, v_elem_score = v.schools["elementary"][0], v.schools["elementary"][1]
    v_mid_names, v_mid_score = v.schools["middle"][0], v.schools["middle"][1]
    v_high_names, v_high_score = v.schools["high"][0], v.schools["high"][1]
    zip_code = v.zip_code[h.zip_idx]
    state = np.where(v.city_is_az[h.city], "AZ", "CA").astype(object)
    address = (h.street_no.astype(str).astype(object) + " " + h.street + h.unit).astype(object)
    parcel = land & (h.street_no == 0) & (unif(n) < 0.08)
    apn = rng.integers(100, 999, size=(int(parcel.sum()), 2)).astype(str).astype(object)
    address[parcel] = "0 Apn " + apn[:, 0] + " #" + apn[:, 1] + "-24-00"

    frame = pl.DataFrame(
        {
            "Id": pl.Series(ids).cast(pl.Utf8),
            "Address": _text(address),
            "Sold Price": _float_text(sold),
            "Summary": pl.Series([None] * n, dtype=pl.Utf8),
            "Type": _text(v.type_label[h.type_idx]),
            "Year built": _float_text(year, miss_or_land(0.022, 0.0284) & ~shown["year"]),
            "Heating": _text(heating, heat_missing),
            "Cooling": _text(cooling, cooling_empty | land),
            "Parking": _text(np.where(land, "0 spaces", parking).astype(object), parking_empty),
            "Lot": _float_text(lot, (unif(n) < np.where(condo, 0.85, np.where(land, 0.1, 0.125))) & ~shown["lot"]),
            "Bedrooms": _text(bedrooms, miss_or_land(0.0605, 0.0546) & ~as_text),
            "Bathrooms": _float_text(baths, miss_or_land(0.073, 0.0615) & ~shown["baths"]),
            "Full bathrooms": _float_text(full_baths, miss_or_land(0.1658, 0.1601)),
            "Total interior livable area": _float_text(area, miss_or_land(0.0532, 0.0427) & ~shown["area"]),
            "Total spaces": _float_text(total_spaces, spaces_missing & ~shown["spaces"]),
            "Garage spaces": _float_text(garage, spaces_missing & ~shown["spaces"]),
            "Region": _text(h.region, region_null),
            "Elementary School": _text(v_elem_names[h.elem], elem_missing),
            "Elementary School Score": _float_text(v_elem_score[h.elem], elem_missing | (unif(n) < 0.004)),
            "Elementary School Distance": _float_text(h.elem_dist, elem_missing),
            "Middle School": _text(v_mid_names[h.middle], middle_missing),
            "Middle School Score": _float_text(v_mid_score[h.middle], middle_missing),
            "Middle School Distance": _float_text(h.middle_dist, middle_missing),
            "High School": _text(v_high_names[h.high], high_missing),
            "High School Score": _float_text(v_high_score[h.high], high_missing | (unif(n) < 0.005)),
            "High School Distance": _float_text(h.high_dist, high_missing),
            "Flooring": _text(flooring, miss_or_land(0.2439, 0.3275)),
            "Heating features": _text(heating_f, heat_f_missing),
            "Cooling features": _text(cooling_f, cooling_f_empty | land),
            "Appliances included": _text(appliances, miss_or_land(0.2865, 0.3085)),
            "Laundry features": _text(laundry, laundry_empty | land),
            "Parking features": _text(parking_f, parking_f_empty | land),
            "Tax assessed value": _float_text(tax_value, (u_tax < _rate(is_test, 0.077, 0.0845)) & ~shown["tax"]),
            "Annual tax amount": _float_text(annual_tax, (u_tax < _rate(is_test, 0.0909, 0.0917)) & ~shown["annual"]),
            "Listed On": _date_text(listed_days),
            "Listed Price": _float_text(listed),
            "Last Sold On": _date_text(last_days, last_missing),
            "Last Sold Price": _float_text(last_price, last_missing),
            "City": _text(v.city[h.city]),
            "Zip": pl.Series(zip_code).cast(pl.Utf8),
            "State": _text(state),
        }
    )
    leak = np.zeros(n, dtype=bool)
    leak[leak_rows] = True
    summary = _summary(rng, h, frame, sold, listed, sale_days, leak)
    summary_missing = (unif(n) < 0.0075) & ~leak
    frame = frame.with_columns(
        pl.when(pl.lit(pl.Series(summary_missing))).then(None).otherwise(summary).alias("Summary")
    )
    train = frame.slice(0, n_train)
    test = frame.slice(n_train).drop("Sold Price")
    submission = pl.DataFrame({"Id": test["Id"], "Sold Price": pl.Series(["0"] * n_test, dtype=pl.Utf8)})
    return train, test, submission


def write(data_dir: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """Write train.csv, test.csv, sample_submission.csv into data_dir (created if needed)."""
    write_files(Path(data_dir), *generate(n_train, n_test, seed))
