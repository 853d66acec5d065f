"""What a report says: the capacity, slow-queries and DR reviews, display blocks and charts."""
