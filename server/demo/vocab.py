"""Word lists the demo draws names and texts from (plain data, no logic)."""

from __future__ import annotations

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy "
    "Jacob Kathleen Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna "
    "Larry Pamela Justin Nicole Scott Samantha Brandon Katherine Benjamin Christine Samuel "
    "Debra Gregory Rachel Alexander Carolyn Patrick Janet Frank Maria Raymond Olivia Jack "
    "Heather Dennis Helen Jerry Catherine Tyler Diane Aaron Julie Jose Victoria Adam Joyce "
    "Nathan Lauren Henry Kelly Zachary Christina Douglas Ruth Peter Joan Kyle Virginia Noah "
    "Judith Ethan Evelyn Jeremy Hannah Walter Andrea Christian Megan Keith Cheryl Roger "
    "Jacqueline Terry Madison Austin Teresa Sean Abigail Gerald Sophia Carl Martha Harold "
    "Sara Dylan Gloria Arthur Janice Lawrence Kathryn Jordan Ann Jesse Isabella Bryan Judy "
    "Billy Charlotte Bruce Julia Gabriel Grace Joe Amber Logan Alice Alan Jean Juan Denise "
    "Wei Mei Hiroshi Yuki Priya Arjun Aisha Omar Fatima Carlos Lucia Miguel Sofia Diego "
    "Valentina Mateo Camila Luis Ana Jorge Elena Raj Anika Kwame Amara Dmitri Olga Tariq Leila"
).split()

LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez "
    "Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales "
    "Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin "
    "Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens "
    "Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy "
    "Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter "
    "Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner "
    "Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels "
    "Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins "
    "Wang Singh Shah Okafor Mensah Novak Kowalski Ivanova Haddad Nakamura Tanaka Park Choi"
).split()

STREETS = (
    "Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Walnut Chestnut Lincoln Jackson "
    "Franklin Highland Jefferson Madison Spring Church Market Center Mill River Forest "
    "Meadow Sunset Ridge Willow Adams Grant Prospect Union Broad Water Bridge Railroad "
    "Industrial Commerce Harbor Orchard Valley Summit Lakeview Fairview Grove Liberty Cherry "
    "Hickory Birch Sycamore Magnolia Dogwood Aspen Laurel Poplar Clinton Monroe Wilson Taylor"
).split()
ORDINAL_STREETS = ("1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "12th")
STREET_SUFFIXES = ("St", "St", "Ave", "Ave", "Blvd", "Rd", "Dr", "Ln", "Way", "Pkwy", "Ct", "Pl")

ADJECTIVES = (
    "Golden Blue Green Silver Red Bright Summit Prime Pioneer Liberty Evergreen Harbor "
    "Sunrise Northern Southern Eastern Western Metro Capital Union Heritage Keystone Crescent"
).split()
NOUNS = (
    "Oak Pine Anchor Bridge Crown Lantern Compass Beacon Arrow Falcon Maple Cedar River Stone "
    "Harvest Orchard Mill Forge Spruce Willow Meadow"
).split()

#: Industry -> (weight, name patterns). ``{last}`` a surname, ``{place}`` the
#: town, ``{street}`` a street name, ``{adj}``/``{noun}`` from the lists above.
INDUSTRIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "Restaurants": (0.18, (
        "{last}'s Kitchen", "{place} Grill", "The {adj} Fork", "{last} Family Diner",
        "{noun} & {noun2} Bistro", "{street} Street Cafe", "{adj} Dragon Noodle House",
        "Casa {last}", "{place} Pizza Co.", "{noun} Tavern",
    )),
    "Grocery & Convenience": (0.14, (
        "{place} Fresh Market", "{last}'s Corner Store", "{adj} Grocers", "{street} Mini Mart",
        "{noun} Food Mart", "{last} & Sons Market",
    )),
    "Healthcare": (0.12, (
        "{place} Family Dental", "{adj} Pediatrics", "{street} Physical Therapy",
        "{last} Chiropractic", "{place} Urgent Care", "{noun} Veterinary Clinic",
    )),
    "Automotive": (0.10, (
        "{last} Auto Repair", "{place} Tire & Brake", "{adj} Collision Center",
        "{street} Street Garage", "{noun} Motors", "{last}'s Body Shop",
    )),
    "Construction": (0.09, (
        "{last} Builders", "{adj} Roofing", "{place} Plumbing & Heating", "{noun} Contractors",
        "{last} Electric", "{adj} Concrete",
    )),
    "Hospitality": (0.07, (
        "{place} Inn", "The {adj} Hotel", "{noun} Suites", "{street} Street Lodge",
        "{last} Event Center",
    )),
    "Retail": (0.12, (
        "{adj} Hardware", "{place} Outfitters", "{last}'s Flowers", "{noun} Books",
        "{adj} Pharmacy", "{street} Street Boutique", "{place} Pet Supply",
    )),
    "Professional Services": (0.08, (
        "{last} & {last2} CPAs", "{adj} Insurance Agency", "{last} Law Office",
        "{place} Realty", "{noun} Print & Copy",
    )),
    "Manufacturing": (0.05, (
        "{noun} Manufacturing", "{adj} Fabrication", "{place} Tool & Die", "{last} Industries",
    )),
    "Education": (0.05, (
        "{place} Montessori", "{adj} Learning Center", "{noun} Academy", "{last} Tutoring",
    )),
}

CONTACT_TITLES = (
    "Owner", "Owner", "General Manager", "Office Manager", "Purchasing Manager",
    "Operations Manager", "Store Manager", "Buyer", "Facilities Manager", "Director of Operations",
    "Practice Manager", "Assistant Manager", "Finance Manager", "Head of Procurement",
)

PRODUCTS = (
    "Starter bundle", "Annual supply contract", "Premium service plan", "Equipment lease",
    "Maintenance contract", "Seasonal restock", "POS upgrade", "Multi-site agreement",
    "Cleaning supplies program", "Packaging refresh",
)

WIN_REASONS = ("Best price", "Relationship", "Product fit", "Fast delivery", "Bundle discount")
LOSS_REASONS = (
    "Lost to competitor", "No budget", "No decision", "Timing", "Price too high",
    "Went with incumbent",
)
DISQUALIFY_REASONS = (
    "No budget", "Not a decision maker", "Not interested", "Already with a competitor",
    "Business closed", "Duplicate",
)

TEXTS_OUT = (
    "Hi {first}, confirming my visit {when}. See you then!",
    "Thanks for your time today, {first}.",
    "Hi {first}, your order is on its way.",
    "{first}, the price list you asked for is in your inbox.",
    "Quick reminder: the promo ends Friday.",
    "Running about 10 minutes late, sorry {first}!",
)
TEXTS_IN = (
    "Sounds good, see you then.",
    "Can you send the updated price list?",
    "Got it, thanks!",
    "Can we move our meeting to next week?",
    "Please call me when you have a minute.",
    "We're low on stock, can you stop by?",
)
EMAIL_SUBJECTS_OUT = (
    "Quote for {account}", "Follow-up: {product}", "Meeting recap", "Your order confirmation",
    "New catalog for {account}", "Checking in",
)
EMAIL_SUBJECTS_IN = (
    "Re: Quote for {account}", "Question about our invoice", "Re: Meeting recap",
    "Order change request", "Re: Checking in",
)
EMAIL_BODY = (
    "Hi {first},\n\nThanks again for your time. As discussed, I've attached the details "
    "for the {product}. Let me know if you have any questions.\n\nBest regards"
)
NOTES = (
    "Spoke with {first} about the {product}; interested, wants numbers by next week.",
    "{first} mentioned a competitor visited last month. Keep pricing sharp.",
    "Shelf space reorganised; follow up on display materials.",
    "New manager starting next month, {first} will introduce us.",
    "Account is expanding to a second location in spring.",
    "Left samples with the front desk.",
)
MEETING_SUBJECTS = (
    "Quarterly business review", "Product demo: {product}", "Contract renewal",
    "Intro meeting with {first}", "Pricing discussion",
)
CALL_NOTES = (
    "Discussed reorder schedule.", "Wants a callback after the holidays.",
    "Interested in the {product}.", "Asked about delivery times.",
)
TASK_TITLES = (
    "Call back {first} at {account}", "Send price list to {account}",
    "Prepare quote for {account}", "Update contact details for {account}",
    "Drop off samples at {account}", "Follow up on invoice with {first}",
    "Schedule demo for {account}",
)
APPOINTMENT_TITLES = (
    "Visit {account}", "Demo at {account}", "Quarterly review at {account}",
    "Delivery check at {account}", "Meet {first} at {account}",
)
